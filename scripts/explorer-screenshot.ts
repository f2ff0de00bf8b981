// A screenshot of the explorer on a running network (`npm start`), after some traffic: a token
// deployed and transfers from several development accounts, then a block's certificate verified.
//   node --import tsx scripts/explorer-screenshot.ts [--url http://127.0.0.1:8545] [--out docs/explorer.png] [--page home|block]
// Needs Chromium (BULWARK_CHROMIUM, default /usr/bin/chromium).
import { parseArgs } from 'node:util';
import { JsonRpcProvider, Wallet, ContractFactory, Contract } from 'ethers';
import { chromium } from 'playwright-core';
import { devAccounts } from '../src/setup/dev-accounts.ts';
import contracts from '../test/fixtures/contracts.json' with { type: 'json' };

const { values } = parseArgs({ options: { url: { type: 'string', default: 'http://127.0.0.1:8545' }, out: { type: 'string', default: 'docs/explorer.png' }, page: { type: 'string', default: 'home' } } });
const url = values.url!;
const provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
const wallets = devAccounts(6).map((a) => new Wallet(a.privateKey, provider));

const token = contracts.contracts.Token;
const deployed = await new ContractFactory(token.abi, token.bytecode, wallets[0]).deploy(10n ** 24n);
await deployed.waitForDeployment();
const erc20 = new Contract(await deployed.getAddress(), token.abi, wallets[0]);
for (let round = 0; round < 6; round++) {
  const sent = await Promise.all(wallets.slice(1).map((w, i) => w.sendTransaction({ to: wallets[(i + 2) % wallets.length]!.address, value: 10n ** 15n * BigInt(round + 1) })));
  sent.push(await erc20.getFunction('transfer')(wallets[1 + (round % 5)]!.address, 1000n * BigInt(round + 1)));
  await Promise.all(sent.map((t) => t.wait()));
  await new Promise((r) => setTimeout(r, 700));
}

const browser = await chromium.launch({ executablePath: process.env['BULWARK_CHROMIUM'] ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(url);
  await page.locator('#replicas tbody tr').nth(3).waitFor({ timeout: 20_000 });
  await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 20_000 });
  if (values.page === 'block') {
    const head = await provider.getBlockNumber();
    await page.goto(`${url}/#/block/${head}`);
    await page.click('#verify-cert');
    await page.locator('#cert-result').waitFor({ timeout: 20_000 });
  }
  await new Promise((r) => setTimeout(r, 1500));
  await page.screenshot({ path: values.out!, fullPage: true });
  process.stdout.write(`${values.out}\n`);
} finally {
  await browser.close();
  provider.destroy();
}
