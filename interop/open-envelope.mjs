// Opens a Gatehouse envelope with panva/jose, an implementation independent of
// the gateway's: decrypts the JWE with the recipient's private JWK, verifies
// the JWS inside against the gateway's JWKS, and prints the manifest.
//
//   node open-envelope.mjs ENVELOPE RECIPIENT.jwk GATEWAY-JWKS.json
import { readFileSync } from 'node:fs';
import { compactDecrypt, compactVerify, createLocalJWKSet, importJWK } from 'jose';

const [envelopeFile, keyFile, jwksFile] = process.argv.slice(2);
const envelope = readFileSync(envelopeFile, 'utf8').trim();
const recipient = JSON.parse(readFileSync(keyFile, 'utf8'));
const jwks = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));

const key = await importJWK(recipient, 'ECDH-ES+A256KW');
const { plaintext, protectedHeader: jweHeader } = await compactDecrypt(envelope, key, {
  keyManagementAlgorithms: ['ECDH-ES+A256KW'],
  contentEncryptionAlgorithms: ['A256GCM'],
});
const { payload, protectedHeader: jwsHeader } = await compactVerify(new TextDecoder().decode(plaintext), jwks, {
  algorithms: ['ES256'],
});
process.stdout.write(JSON.stringify({
  jwe: jweHeader,
  jws: jwsHeader,
  manifest: JSON.parse(new TextDecoder().decode(payload)),
}));
