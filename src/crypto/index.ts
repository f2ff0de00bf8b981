/** The crypto part's public API; other parts import from here, not from the files behind it. */
export { initHashes, keccak256, sha256, sha3_256 } from './hash.ts';
export { bytesToHex, hexToBytes } from './hex.ts';
export {
  assertNativeSecp256k1,
  ecrecover,
  ecsign,
  ecsignForEthereumjs,
  ethereumCustomCrypto,
  generateSecp256k1PrivateKey,
  privateKeyToAddress,
  privateKeyToPublicKey,
  publicKeyToAddress,
  secp256k1Backend,
  type EcdsaSignature,
  type Secp256k1Backend,
} from './secp256k1.ts';
export { MAX_SIGNERS, SignerBitVector } from './bitvector.ts';
export { BlsDomain, DOMAIN_CHECKPOINT, DOMAIN_CONSENSUS, DOMAIN_EXECUTION, DOMAIN_POP } from './bls-domain.ts';
export {
  BLS_PUBLIC_KEY_LENGTH,
  BLS_SECRET_KEY_LENGTH,
  BLS_SIGNATURE_LENGTH,
  aggregateBlsPublicKeys,
  aggregateBlsSignatures,
  aggregateSerializedBlsSignatures,
  blsPublicKeyFromBytes,
  blsPublicKeyOf,
  blsPublicKeyToBytes,
  blsSecretKeyFromBytes,
  blsSecretKeyToBytes,
  blsSign,
  blsSignatureFromBytes,
  blsSignatureToBytes,
  blsVerify,
  generateBlsSecretKey,
  provePossession,
  verifyAggregate,
  verifyAggregates,
  type AggregateCheck,
  verifyPossession,
  type BlsPublicKey,
  type BlsSecretKey,
  type BlsSignature,
} from './bls.ts';
export {
  NODE_AUTH_SIGNATURE_LENGTH,
  exportNodeAuthPrivateKey,
  exportNodeAuthPublicKey,
  generateNodeAuthKeyPair,
  importNodeAuthPrivateKey,
  importNodeAuthPublicKey,
  nodeAuthPublicKeyOf,
  signNodeAuth,
  verifyNodeAuth,
  type NodeAuthAlgorithm,
  type NodeAuthKey,
  type NodeAuthKeyPair,
  type NodeAuthPrivateKey,
  type NodeAuthPublicKey,
} from './node-auth.ts';
export {
  KEY_FILE_VERSION,
  isKeyFileSealed,
  readKeyFile,
  writeKeyFile,
  type KeyFile,
  type KeyFileReadOptions,
  type KeyFileWriteOptions,
} from './key-file.ts';
export { DEFAULT_SCRYPT_COST, openKey, sealKey, type ScryptCost, type SealedKey } from './key-seal.ts';
