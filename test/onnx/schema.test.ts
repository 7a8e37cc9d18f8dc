import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ONNX_SCHEMA } from '../../src/onnx/schema.js';

describe('the embedded ONNX schema', () => {
  it('is proto/onnx.proto as protobufjs reads it (regenerate with node scripts/make-onnx-schema.mjs)', () => {
    const fromProto = protobuf.loadSync(new URL('../../proto/onnx.proto', import.meta.url).pathname).toJSON();
    expect(JSON.parse(JSON.stringify(ONNX_SCHEMA))).toEqual(JSON.parse(JSON.stringify(fromProto)));
    // The official file, not an edited copy: its header names the ONNX project.
    expect(readFileSync(new URL('../../proto/onnx.proto', import.meta.url), 'utf8')).toMatch(/SPDX-License-Identifier: Apache-2.0/);
  });
});
