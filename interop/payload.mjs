// The Gatehouse payload stream (docs/format.md §6), written from the document
// alone with WebCrypto: HKDF-SHA256 for the segment key, AES-256-GCM per
// segment with nonce = prefix || big-endian index || last flag. No Tink, no
// Go, nothing of the gateway's. It is the reference client's own code
// (clients/js), so the test vectors hold what partners run.
export * from '../clients/js/src/payload.mjs';
