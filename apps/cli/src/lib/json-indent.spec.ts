import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indentJson } from './json-indent.ts';

test('re-indents like Go json.Indent and keeps escapes as sent', () => {
  const raw = '[{"Id":"a","Cmd":["sh","-c","a \\u0026\\u0026 b"],"Labels":{},"Empty":[],"N":1.5,"S":"x:{y}, z"}]';
  assert.equal(indentJson(raw), [
    '[',
    '    {',
    '        "Id": "a",',
    '        "Cmd": [',
    '            "sh",',
    '            "-c",',
    '            "a \\u0026\\u0026 b"',
    '        ],',
    '        "Labels": {},',
    '        "Empty": [],',
    '        "N": 1.5,',
    '        "S": "x:{y}, z"',
    '    }',
    ']',
  ].join('\n'));
});
