// Go's text/tabwriter (elastic tabstops), as docker's tables use it: tab-terminated cells in contiguous lines
// form a column as wide as its widest cell plus padding (at least `minwidth`); the text after a line's last
// tab is not part of a column and is written as is.

export interface TabwriterOptions {
  minwidth: number;
  padding: number;
}

/** Docker's table settings: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`. */
export const DOCKER_TABLE: TabwriterOptions = { minwidth: 10, padding: 3 };

export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABLE): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];
  const cellWidth = (s: string) => [...s].length;

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      let s = '';
      for (let j = 0; j < line.length; j++) {
        const c = line[j]!;
        s += c;
        if (j < widths.length) s += ' '.repeat(Math.max(0, widths[j]! - cellWidth(c)));
      }
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let thisLine = line0; thisLine < line1; thisLine++) {
      if (column >= lines[thisLine]!.length - 1) continue;
      writeLines(line0, thisLine);
      line0 = thisLine;
      let width = opts.minwidth;
      for (; thisLine < line1; thisLine++) {
        const line = lines[thisLine]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, cellWidth(line[column]!) + opts.padding);
      }
      widths.push(width);
      format(line0, thisLine);
      widths.pop();
      line0 = thisLine;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n');
}
