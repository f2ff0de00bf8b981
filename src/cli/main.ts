/** Entry point: `node --import tsx src/cli/main.ts …` (npm run bulwark) or `bin/bulwark.mjs`. */
import { runCli } from './program.ts';

// A reader that goes away (`bulwark init --help | head`) is not a failure of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2));
