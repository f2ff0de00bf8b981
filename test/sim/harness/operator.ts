/** Operator commands as the operator's CLI makes them, signed with the simulator's operator key. */
import { encodeOperatorCommand, encodeOperatorPayload, type OperatorCommand } from '../../../src/codec/operator-command.ts';
import type { SimKeyRegistry } from './sim-crypto.ts';
import type { World } from './world.ts';

/** A client request payload carrying `command`, signed for the world's chain. */
export function operatorPayload(w: World, command: OperatorCommand): Uint8Array {
  const bytes = encodeOperatorCommand(command, BigInt(w.cfg.chainId));
  return encodeOperatorPayload(bytes, (w.registry as SimKeyRegistry).signOperator(bytes));
}
