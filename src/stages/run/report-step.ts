import type { JobRow } from '../jobs/index.js';
import { jsonBeside, report } from '../report/index.js';
import { PIPELINE_CATALOG_NAMES } from './preflight.js';
import { allExist, fingerprints, keyOf } from './records.js';
import type { RunContext } from './steps.js';

/**
 * 6. the report (output.report, on by default): report.html and report.json
 * in OUT, from the jobs' outputs shard by shard (so the page has a line per
 * shard), with the input's manifest (missing keys), the catalog and the
 * previous export the export compared with, if any: the catalog read with
 * the export's settings. Redone when the jobs or
 * those files changed.
 */
export async function reportStep(ctx: RunContext, collectKey: string, active: JobRow[]): Promise<void> {
  const { p, summary, record, layout } = ctx;
  const o = p.output;
  if (o.report === undefined) return;
  const { html, ...settings } = o.report;
  // With mapUsers the export compared users; the jobs' lines are keyed by source item: nothing to compare them with.
  const since = o.mapUsers ? undefined : record.export?.prev;
  const reportKey = keyOf({
    collectKey,
    settings,
    catalog: o.catalog ? await fingerprints([o.catalog]) : [],
    catalogIdColumn: o.catalogIdColumn,
    catalogDelimiter: o.catalogDelimiter,
    catalogEncoding: o.catalogEncoding,
    ...(since ? { since, prev: await fingerprints([since]), rename: o.rename } : {}),
  });
  if (record.report?.key === reportKey && (await allExist([html, jsonBeside(html)]))) {
    summary.resumed.push('report');
    ctx.emit({ type: 'stage', stage: 'report', reused: true, detail: html });
  } else {
    ctx.emit({ type: 'stage', stage: 'report', reused: false, detail: html });
    await report({
      sources: active.map((j) => j.output),
      output: html,
      inputs: [layout.manifest],
      catalog: o.catalog,
      catalogIdColumn: o.catalogIdColumn,
      catalogTitleColumn: settings.catalogTitleColumn,
      // The catalog is read as the export read it.
      catalogDelimiter: o.catalogDelimiter,
      catalogEncoding: o.catalogEncoding,
      maxCatalogItems: o.maxCatalogItems,
      catalogNames: { ...PIPELINE_CATALOG_NAMES, columns: '$.output.report.catalogTitleColumn' },
      since,
      // The previous export was written with output.rename too: its header reads back through it.
      rename: since ? o.rename : undefined,
      // The overlap's k means something only against a previous export.
      k: since ? settings.k : undefined,
      locale: settings.locale,
      title: settings.title,
      memoryBudget: p.input.memoryBudget,
      tmpDir: p.input.tmpDir,
      onEvent: (e) => {
        if (e.type === 'progress')
          ctx.emit({ type: 'progress', stage: 'report', lines: e.lines, bytes: e.bytesRead });
      },
    });
    record.report = { key: reportKey, at: new Date().toISOString() };
    await ctx.save();
  }
  summary.files.report = html;
}
