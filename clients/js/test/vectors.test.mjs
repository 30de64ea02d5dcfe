// The client's payload code against the format's test vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decrypt } from '../src/index.mjs';

const dir = new URL('../../../exchange/seal/testdata/vectors/', import.meta.url).pathname;

for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  test(`vector ${f}`, async () => {
    const v = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const ct = readFileSync(join(dir, v.ciphertext.file));
    const plain = await decrypt(v.manifest, ct);
    assert.equal(plain.length, v.plaintext.size);
    for (let i = 0; i < plain.length; i++) if (plain[i] !== i % 251) assert.fail(`byte ${i}`);
  });
}
