import type { BenchResults, ScenarioResult } from './run.js';

const COLORS: Record<string, string> = { raw: '#9aa5b1', bareNest: '#5b7083', bareNestNoopGuardPipe: '#8093a6', naive: '#d9822b', tuned: '#ae3ec9', secured: '#2b8a3e', securedRedis: '#1c7ed6' };
const PANELS: { key: keyof ScenarioResult; title: string; better: 'lower' | 'higher'; digits: number }[] = [
  { key: 'cpuUsPerMsg', title: 'Server CPU per message (µs)', better: 'lower', digits: 1 },
  { key: 'msgsPerSec', title: 'Closed-loop throughput (msgs/s)', better: 'higher', digits: 0 },
  { key: 'handshakesPerSec', title: 'Handshakes per second, fresh token', better: 'higher', digits: 0 },
  { key: 'p50Ms', title: 'p50 latency at a fixed rate (ms)', better: 'lower', digits: 2 },
  { key: 'p99Ms', title: 'p99 latency at a fixed rate (ms)', better: 'lower', digits: 2 },
  { key: 'heapKbPerConn', title: 'Heap per connection (KB)', better: 'lower', digits: 2 },
];

/** Splits text into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) { lines.push(line); line = word; } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The results as a hand-written SVG: one small bar panel per measure, ratios underneath. */
export function renderChart(results: BenchResults): string {
  const names = Object.keys(results.scenarios);
  const columns = 3;
  const panelWidth = 380;
  const barHeight = 18;
  const labelWidth = 150;
  const panelHeight = 34 + names.length * (barHeight + 6) + 8;
  const rowsOfPanels = Math.ceil(PANELS.length / columns);
  const ratioLines = Object.entries(results.ratios).map(([key, value]) => `${key}: ${value ?? 'n/a'}`);
  const top = 52 + wrap(results.machine, 150).length * 15;
  const width = columns * panelWidth + 20;
  const height = top + rowsOfPanels * panelHeight + 24 + ratioLines.length * 16 + 24;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">nestjs-realtime-security: echo with ack, ${escape(names.join(' / '))}</text>`);
  out.push(`<text x="10" y="36" fill="#555">${escape(`${results.date.slice(0, 16).replace('T', ' ')} UTC, Node ${results.node}`)}</text>`);
  wrap(results.machine, 150).forEach((line, i) => out.push(`<text x="10" y="${52 + i * 15}" fill="#555" font-size="11">${escape(line)}</text>`));
  PANELS.forEach((panel, index) => {
    const x0 = 10 + (index % columns) * panelWidth;
    const y0 = top + Math.floor(index / columns) * panelHeight;
    const values = names.map((name) => results.scenarios[name as keyof BenchResults['scenarios']]?.[panel.key] ?? null);
    const max = Math.max(1e-9, ...values.map((v) => v ?? 0));
    const barSpace = panelWidth - labelWidth - 70;
    out.push(`<text x="${x0}" y="${y0 + 18}" font-weight="bold">${escape(panel.title)}</text>`);
    out.push(`<text x="${x0 + panelWidth - 20}" y="${y0 + 18}" text-anchor="end" fill="#777">${panel.better} is better</text>`);
    names.forEach((name, i) => {
      const y = y0 + 28 + i * (barHeight + 6);
      const value = values[i];
      const w = value === null ? 0 : Math.max(1, (value / max) * barSpace);
      out.push(`<text x="${x0 + labelWidth - 6}" y="${y + 13}" text-anchor="end">${escape(name)}</text>`);
      out.push(`<rect x="${x0 + labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[name] ?? '#888'}"/>`);
      out.push(`<text x="${(x0 + labelWidth + w + 4).toFixed(1)}" y="${y + 13}">${value === null ? 'n/a' : value.toFixed(panel.digits)}</text>`);
    });
  });
  const ry = top + rowsOfPanels * panelHeight + 14;
  out.push(`<text x="10" y="${ry}" font-weight="bold">Medians of per-round ratios (targets: CPU/msg &lt;= 1.1, msgs/s vs tuned &gt;= 1.2, vs naive &gt;= 1.5, handshakes &gt;= 0.9, Redis handshakes &gt;= 0.8, heap +&lt;= 2 KB)</text>`);
  ratioLines.forEach((line, i) => out.push(`<text x="20" y="${ry + 18 + i * 16}">${escape(line)}</text>`));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
