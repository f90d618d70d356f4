export type Cell = string | number | undefined;

/** Renders a plain-text table; numbers are right-aligned and shown with `decimals` digits. */
export function formatTable(headers: string[], rows: Cell[][], decimals = 2): string {
  const text = rows.map((row) =>
    row.map((cell) => {
      if (cell === undefined) return '';
      if (typeof cell === 'number') return Number.isFinite(cell) ? formatNumber(cell, decimals) : '-';
      return cell;
    }),
  );
  const numeric = headers.map((_, column) => rows.some((row) => typeof row[column] === 'number'));
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...text.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...text.map(line)].join('\n');
}

function formatNumber(value: number, decimals: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
