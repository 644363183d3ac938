import Table from 'cli-table3';

/** Colours only on a terminal: piped output stays plain text. */
export const colour = Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;

export interface TableOptions {
  /** No rule between rows (for tables of many short rows). @default false */
  compact?: boolean;
}

/** A cli-table3 table with the fleet's style (plain when not on a TTY). */
export function createTable(head: string[], options: TableOptions = {}): Table.Table {
  return new Table({ head, style: tableStyle(options) });
}

/** The fleet's table style, for tables that need cli-table3's other options (column widths, wrapping). */
export function tableStyle(options: TableOptions = { compact: true }): { head: string[]; border: string[]; compact: boolean } {
  const compact = options.compact ?? false;
  return colour ? { head: ['cyan'], border: ['grey'], compact } : { head: [], border: [], compact };
}
