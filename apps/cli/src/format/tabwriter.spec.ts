import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tabwrite } from './tabwriter.ts';

test('columns are as wide as their widest cell plus padding, at least minwidth', () => {
  const out = tabwrite('CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox:latest\tweb\n');
  assert.equal(out, 'CONTAINER ID   IMAGE            NAMES\nabc            busybox:latest   web\n');
});

test('the text after the last tab is not padded, and short columns get minwidth', () => {
  assert.equal(tabwrite('A\tB\nx\ty\n'), 'A         B\nx         y\n');
});

test('column blocks end at lines with fewer cells (Go elastic tabstops)', () => {
  const out = tabwrite('a\tbbbbbbbbbbbbbbb\tc\nplain line\nd\te\tf\n', { minwidth: 0, padding: 1 });
  assert.equal(out, 'a bbbbbbbbbbbbbbb c\nplain line\nd e f\n');
});

test('widths count characters, not bytes', () => {
  assert.equal(tabwrite('héllo\tx\nab\ty\n', { minwidth: 0, padding: 1 }), 'héllo x\nab    y\n');
});
