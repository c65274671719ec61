// A dependency-free grouped bar chart as SVG: one group per row label, one bar per series.
import fs from 'node:fs';
import path from 'node:path';
import { benchDir, root } from './common.mjs';

const COLORS = ['#2563eb', '#9ca3af', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const short = (v) => (v >= 10_000 ? `${(v / 1000).toFixed(0)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));

/**
 * @param {{title: string, unit: string, groups: string[], series: {name: string, values: (number|null)[]}[], log?: boolean, note?: string}} chart
 * @returns {string} the SVG text
 */
export function barChart({ title, unit, groups, series, log = false, note }) {
  const barW = 18;
  const gap = 26;
  const groupW = series.length * barW + gap;
  const left = 70;
  const top = 46;
  const plotH = 220;
  const width = Math.max(560, left + groups.length * groupW + 20);
  const legendH = 18 * Math.ceil(series.length / 3);
  const height = top + plotH + 70 + legendH + (note ? 18 : 0);
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && v > 0);
  const max = all.length ? Math.max(...all) : 1;
  const min = log ? Math.max(Math.min(...all, max) / 2, 1e-3) : 0;
  const y = (v) => {
    if (!Number.isFinite(v) || v <= 0) return 0;
    if (!log) return (v / (max * 1.1)) * plotH;
    return (Math.log10(v / min) / Math.log10((max * 1.5) / min)) * plotH;
  };
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${left}" y="36" fill="#555">${esc(unit)}${log ? ' (log scale)' : ''}</text>`);
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - 10}" y2="${top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`);
  // Axis ticks.
  const ticks = log
    ? Array.from({ length: 12 }, (_, i) => 10 ** (Math.floor(Math.log10(min)) + i)).filter((t) => t >= min && t <= max * 1.5)
    : [0.25, 0.5, 0.75, 1].map((f) => f * max * 1.1);
  for (const t of ticks) {
    const ty = top + plotH - y(t);
    out.push(`<line x1="${left - 4}" y1="${ty}" x2="${width - 10}" y2="${ty}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${ty + 4}" text-anchor="end" fill="#555">${short(t)}</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = left + 12 + gi * groupW;
    series.forEach((s, si) => {
      const v = s.values[gi];
      const h = y(v);
      const x = gx + si * barW;
      if (Number.isFinite(v) && v > 0) {
        out.push(`<rect x="${x}" y="${top + plotH - h}" width="${barW - 2}" height="${h}" fill="${COLORS[si % COLORS.length]}"><title>${esc(s.name)}: ${esc(short(v))}</title></rect>`);
        out.push(`<text x="${x + (barW - 2) / 2}" y="${top + plotH - h - 3}" text-anchor="middle" font-size="8" fill="#333">${esc(short(v))}</text>`);
      } else {
        out.push(`<text x="${x + (barW - 2) / 2}" y="${top + plotH - 3}" text-anchor="middle" font-size="8" fill="#999">n/a</text>`);
      }
    });
    out.push(`<text x="${gx + (series.length * barW) / 2}" y="${top + plotH + 14}" text-anchor="middle">${esc(g)}</text>`);
  });
  const ly = top + plotH + 40;
  series.forEach((s, si) => {
    const lx = left + (si % 3) * 200;
    const lyy = ly + Math.floor(si / 3) * 18;
    out.push(`<rect x="${lx}" y="${lyy - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/>`);
    out.push(`<text x="${lx + 14}" y="${lyy}">${esc(s.name)}</text>`);
  });
  if (note) out.push(`<text x="${left}" y="${height - 6}" fill="#555" font-size="10">${esc(note)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** Writes tools/bench/charts/<name>.svg; returns the path relative to the repository root. */
export function writeChart(name, chart) {
  const file = path.join(benchDir, 'charts', `${name}.svg`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, barChart(chart));
  return path.relative(root, file);
}
