import Table from 'cli-table3';

/** Colours only on a terminal: piped output stays plain text. */
export const colour = Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;

/** A cli-table3 table with the fleet's style (plain when not on a TTY). */
export function createTable(head: string[]): Table.Table {
  return new Table({ head, style: colour ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] } });
}
