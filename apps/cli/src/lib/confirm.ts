import { stdout } from '../context.ts';
/** docker's "Are you sure you want to continue? [y/N]" prompt; false when stdin is not a terminal and gives nothing. */
export async function confirm(question: string): Promise<boolean> {
  stdout().write(`${question} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const done = (s: string) => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
      resolve(s);
    };
    const onEnd = () => done(buf);
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
    process.stdin.resume();
  });
  const a = answer.trim().toLowerCase();
  return a === 'y' || a === 'yes';
}
