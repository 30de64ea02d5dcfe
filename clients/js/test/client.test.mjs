// Against a real gateway: the Go test TestJSClient (e2e/) starts one and
// runs `node --test` with these variables set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DigestError, GatehouseClient, GatehouseError, decrypt, openEnvelope } from '../src/index.mjs';

const env = process.env;
const skip = env.GATEHOUSE_URL ? false : 'needs a gateway: GATEHOUSE_URL, GATEHOUSE_CA, GATEHOUSE_{SENDER,RECIPIENT}_{CERT,KEY}, GATEHOUSE_RECIPIENT_JWK (go test ./e2e -run TestJSClient sets them)';

function clients() {
  const sender = new GatehouseClient({ url: env.GATEHOUSE_URL, ca: env.GATEHOUSE_CA, cert: env.GATEHOUSE_SENDER_CERT, key: env.GATEHOUSE_SENDER_KEY });
  const recipient = new GatehouseClient({ url: env.GATEHOUSE_URL, ca: env.GATEHOUSE_CA, cert: env.GATEHOUSE_RECIPIENT_CERT, key: env.GATEHOUSE_RECIPIENT_KEY });
  return { sender, recipient, recipientKey: JSON.parse(readFileSync(env.GATEHOUSE_RECIPIENT_JWK, 'utf8')) };
}

/** A disclosure the police-crime agreement allows. */
const disclosure = () => ({
  agreement: 'police-crime',
  recipient: 'police.northshire',
  purpose: 'crime-prevention-detection',
  lawful_basis: 'A6-1-e',
  exemption: 'DPA-S2-P1-2',
  instrument: 'CDA-1998-S115',
  criminal_offence: ['A10', 'DPA-S1-P2-10'],
  data_categories: ['identity', 'financial'],
  subjects: [{ type: 'nino', value: 'QQ123456C' }],
  justification: 'Named suspect in fraud investigation NP-2026-0142',
  authoriser: { name: 'Priya Shah', rank: 'service-manager' },
  content_type: 'application/octet-stream',
});

test('who the gateway takes each party to be', { skip }, async () => {
  const { sender, recipient } = clients();
  try {
    assert.equal((await sender.whoami()).party, 'council.revenues');
    assert.equal((await recipient.whoami()).party, 'police.northshire');
  } finally {
    sender.close();
    recipient.close();
  }
});

for (const [name, size] of [['one request', 1000], ['declare then upload', 2 * 1048576 + 77]]) {
  test(`send (${name}), inbox, envelope, verify, decrypt, ack`, { skip }, async () => {
    const { sender, recipient, recipientKey } = clients();
    try {
      const payload = randomBytes(size);
      const sent = await sender.send(disclosure(), payload);
      assert.equal(sent.state, 'delivered');
      assert.equal(sent.payload?.size, size);

      const inbox = await recipient.inbox();
      assert.ok(inbox.exchanges?.some((e) => e.id === sent.id), 'the exchange is in the recipient\'s inbox');

      const { manifest, plaintext } = await recipient.fetch(sent.id, recipientKey);
      assert.ok(Buffer.compare(plaintext, payload) === 0, 'the plaintext is what was sent');
      assert.equal(manifest.v, 2);
      assert.equal(manifest.sender, 'council.revenues');
      assert.equal(manifest.recipient, 'police.northshire');
      assert.match(manifest.ciphertext.sha256, /^[0-9a-f]{64}$/);

      // The ciphertext altered in transit or in storage is refused.
      const ct = await recipient.ciphertext(sent.id, manifest.ciphertext.size);
      ct[ct.length >> 1] ^= 1;
      await assert.rejects(decrypt(manifest, ct), DigestError);
      const unchecked = { ...manifest, v: 1 };
      await assert.rejects(decrypt(unchecked, ct), /does not authenticate/);

      const acked = await recipient.ack(sent.id);
      assert.equal(acked.state, 'acknowledged');
      assert.equal((await sender.exchange(sent.id)).state, 'acknowledged');
    } finally {
      sender.close();
      recipient.close();
    }
  });
}

test('a refusal carries its checks; nothing is sent', { skip }, async () => {
  const { sender } = clients();
  try {
    const d = { ...disclosure(), purpose: 'marketing' };
    const err = await sender.send(d, Buffer.from('never sent')).catch((e) => e);
    assert.ok(err instanceof GatehouseError, String(err));
    assert.equal(err.status, 403);
    assert.ok(err.problem.decision?.checks?.some((c) => c.code === 'purpose.not-prohibited' && c.passed === false),
      JSON.stringify(err.problem));
    const dry = await sender.check({ ...d, size: 10 });
    assert.equal(dry.outcome, 'deny');
  } finally {
    sender.close();
  }
});

test('another party cannot open the envelope', { skip }, async () => {
  const { sender, recipient, recipientKey } = clients();
  try {
    const sent = await sender.send(disclosure(), Buffer.from('for the police only'));
    const env = await recipient.envelope(sent.id);
    const jwks = await recipient.gatewayKeys();
    assert.equal((await openEnvelope(env, recipientKey, jwks)).exchange, sent.id);
    const other = { ...recipientKey, d: Buffer.alloc(32, 7).toString('base64url') };
    await assert.rejects(openEnvelope(env, other, jwks));
    // A JWKS without the key marked for manifests verifies nothing.
    const auditOnly = { keys: jwks.keys.filter((k) => k.signs === 'audit') };
    await assert.rejects(openEnvelope(env, recipientKey, auditOnly));
    await assert.rejects(sender.envelope(sent.id), (e) => e instanceof GatehouseError && e.status === 404);
  } finally {
    sender.close();
    recipient.close();
  }
});
