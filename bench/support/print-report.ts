import type { Machine } from './describe-machine.js';
import { formatTable, type Cell } from './format-table.js';

export interface ReportTable {
  title: string;
  headers: string[];
  rows: Cell[][];
  decimals?: number;
  notes?: string[];
}

export interface Goal {
  goal: string;
  measured: string;
  /** undefined: not measured in this run. */
  met: boolean | undefined;
}

export interface Report {
  title: string;
  machine: Machine;
  tables: ReportTable[];
  goals: Goal[];
  /** Everything measured, for `--json`. */
  figures: unknown;
}

/** The results on stdout: tables and a goal verdict per line, or one JSON document with `json`. */
export function printReport(report: Report, json: boolean): void {
  if (json) {
    console.log(
      JSON.stringify(
        { title: report.title, machine: report.machine, figures: report.figures, goals: report.goals },
        null,
        2,
      ),
    );
    return;
  }
  const { machine } = report;
  const out: string[] = [
    '',
    `== ${report.title} ==`,
    `machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; load average at start ${machine.loadAverage}`,
  ];
  for (const table of report.tables) {
    out.push('', `${table.title}`, formatTable(table.headers, table.rows, table.decimals));
    for (const note of table.notes ?? []) out.push(`  ${note}`);
  }
  if (report.goals.length > 0) {
    out.push(
      '',
      'Goals',
      formatTable(
        ['goal', 'measured', 'verdict'],
        report.goals.map((goal) => [
          goal.goal,
          goal.measured,
          goal.met === undefined ? 'not measured' : goal.met ? 'met' : 'MISSED',
        ]),
      ),
    );
  }
  console.log(out.join('\n'));
}
