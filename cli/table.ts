import Table from 'cli-table3';

/** Colours only on a terminal: piped output stays plain text. */
export const colour = Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;

export interface TableOptions {
  /** No rule between rows (for tables of many short rows). @default false */
  compact?: boolean;
}

/** A cli-table3 table with the fleet's style (plain when not on a TTY). */
export function createTable(head: string[], options: TableOptions = {}): Table.Table {
  const compact = options.compact ?? false;
  return new Table({ head, style: colour ? { head: ['cyan'], border: ['grey'], compact } : { head: [], border: [], compact } });
}
