/**
 * The network file's JSON shape (format "bulwark-network", version 1): everyone's public material.
 * Keys are 0x-hex (BLS points compressed; Ed25519 keys as SPKI DER), certificates PEM. The checks
 * that need cryptography or span several entries live in `network-file.ts`.
 */
import { z } from 'zod';
import { chainConfigSchema } from '../execution/chain-config.ts';
import { isValidHost } from './topology.ts';

export const NETWORK_FILE_FORMAT = 'bulwark-network';
export const NETWORK_FILE_VERSION = 1;

const hexBytes = (length?: number) =>
  z
    .string()
    .regex(/^0x([0-9a-f]{2})*$/, 'must be lower-case 0x-hex bytes')
    .refine((s) => length === undefined || s.length === 2 + 2 * length, `must be ${length} bytes`);

const host = z.string().refine(isValidHost, 'must be an IP address or a host name');
const port = z.number().int().min(1).max(65535);
const count = z.number().int().nonnegative();
const pem = z.string().startsWith('-----BEGIN CERTIFICATE-----', 'must be a PEM certificate');
const ed25519Key = z.strictObject({ algorithm: z.literal('ed25519'), publicKey: hexBytes() });

export const replicaEntrySchema = z.strictObject({
  id: count,
  host,
  port,
  tlsCertificate: pem,
  bootstrapConsensusKey: z.strictObject({ publicKey: hexBytes(48), proofOfPossession: hexBytes(96) }),
  executionKey: ed25519Key,
});

export const clientEntrySchema = z.strictObject({
  id: count,
  host,
  port,
  tlsCertificate: pem,
  authKey: ed25519Key,
});

export const networkFileSchema = z.strictObject({
  format: z.literal(NETWORK_FILE_FORMAT),
  version: z.literal(NETWORK_FILE_VERSION),
  chainId: z.string().regex(/^[1-9][0-9]*$/, 'must be a positive decimal integer'),
  f: count,
  c: count,
  n: z.number().int().positive(),
  /** Client node ids start here (absent: n). Ids n..firstClient-1 are free for replicas added later. */
  firstClient: count.optional(),
  /**
   * The configuration epoch this file is for (absent: 0, the network as created): one more with each
   * `bulwark reconfigure`, whose operator command names this file's digest.
   */
  epoch: count.optional(),
  operator: ed25519Key,
  replicas: z.array(replicaEntrySchema).min(1),
  clients: z.array(clientEntrySchema),
  chainConfig: chainConfigSchema,
});

export type NetworkFileJson = z.input<typeof networkFileSchema>;
export type ReplicaEntryJson = z.input<typeof replicaEntrySchema>;
export type ClientEntryJson = z.input<typeof clientEntrySchema>;
