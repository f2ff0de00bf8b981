/**
 * The EVM's jump-destination analysis, once per contract code instead of once per call.
 *
 * ethereumjs' interpreter scans a contract's whole bytecode at the first JUMP/JUMPI of every call
 * (`_getValidJumpDestinations`: valid destinations, each PUSH's value as a bigint, the opcode at
 * each position), and keeps the result only for that call. An ERC-20 transfer spent ~5 % of its
 * execution there (CPU profile of `bench:exec`), and the cost grows with the contract's size, not
 * with what the call does. go-ethereum keeps the analysis per code hash; here it is kept per code
 * object, which is what the state manager's code cache hands the EVM for every call to a contract
 * it holds (a contract's code never changes in place), and per opcode table (the hardfork's).
 *
 * The interpreter module is not exported by `@ethereumjs/evm`; it is reached beside the package's
 * entry point, the same module instance the EVM runs (ESM modules are one per URL). The analysis
 * result is only read by the interpreter (`validJumps`, `cachedPushes`, the opcode list).
 */
interface Analysis {
  readonly jumps: Uint8Array;
  readonly pushes: Record<number, bigint>;
  readonly opcodesCached: unknown[];
}

interface Analyser {
  _evm: { _opcodeMap: object };
  common: { isActivatedEIP(eip: number): boolean };
  _getValidJumpDestinations(code: Uint8Array): Analysis;
}

const entry = import.meta.resolve('@ethereumjs/evm');
const { Interpreter } = (await import(new URL('./interpreter.js', entry).href)) as { Interpreter: { prototype: Analyser } };

const analyse = Interpreter.prototype._getValidJumpDestinations;
/** By opcode table (and whether EIP-8024's immediates apply), then by code object. */
const kept = new WeakMap<object, [WeakMap<Uint8Array, Analysis>, WeakMap<Uint8Array, Analysis>]>();

/** Analyses found already made, and made (a test checks the memo is in place). */
export const JUMP_ANALYSIS = { hits: 0, misses: 0 };

Interpreter.prototype._getValidJumpDestinations = function (this: Analyser, code: Uint8Array): Analysis {
  const table = this._evm._opcodeMap;
  let byCode = kept.get(table);
  if (byCode === undefined) {
    byCode = [new WeakMap(), new WeakMap()];
    kept.set(table, byCode);
  }
  const memo = byCode[this.common.isActivatedEIP(8024) ? 1 : 0];
  const known = memo.get(code);
  if (known !== undefined) {
    JUMP_ANALYSIS.hits++;
    return known;
  }
  JUMP_ANALYSIS.misses++;
  const made = analyse.call(this, code);
  memo.set(code, made);
  return made;
};
