// Links between mirrored files: documents are written with links resolved against the state as it stands, the
// links are remembered, and a final pass rewrites the documents whose targets landed elsewhere, failed or were skipped.
import { isHtmlType, openDocument } from './documents.js';
import { disambiguate, localPathFor, preferredAlias, relativeHref } from './paths.js';
import { settledPath, type CrawlState, type LinkTarget, type UrlRecord } from './state.js';
import type { MirrorStore } from './store.js';
import type { LinkResolver } from './types.js';
import { normalizeUrl, type QueryRules } from './url.js';

const SETTLEMENT_PASSES = 3;

export class LinkSettler {
  constructor(
    private readonly state: CrawlState,
    private readonly store: MirrorStore,
    private readonly canonical: boolean,
    /** The frontier's query rules, so a link finds the record its URL was stored under. */
    private readonly query?: QueryRules,
  ) {}

  /**
   * Renders a document with links resolved against the state, and remembers which links it was written with.
   * The state is asynchronous and rendering is not: the targets of the document's references are read first; a
   * link found only while rendering (a form action, a cite) is looked up after, and the document rendered again
   * only if one of those is known.
   */
  async render(fromId: number, fromPath: string, references: readonly { url: string }[], render: (resolve: LinkResolver) => Buffer): Promise<Buffer> {
    // Each URL normalised once, though the references, the rewrites and a second render all ask for it.
    const normalizedUrls = new Map<string, string | null>();
    const normalized = (absoluteUrl: string): string | null => {
      let url = normalizedUrls.get(absoluteUrl);
      if (url === undefined) normalizedUrls.set(absoluteUrl, (url = this.normalized(absoluteUrl)));
      return url;
    };
    const looked = new Set<string>();
    for (const reference of references) {
      const url = normalized(reference.url);
      if (url !== null) looked.add(url);
    }
    const targets = await this.state.linkTargets([...looked]);
    const links = new Map<number, string | null>();
    const unseen = new Set<string>();
    const resolve: LinkResolver = (absoluteUrl) => {
      const url = normalized(absoluteUrl);
      if (url === null) return null;
      const target = targets.get(url);
      if (!target) {
        if (!looked.has(url)) unseen.add(url);
        return null;
      }
      const targetPath = target.id === fromId ? fromPath : this.linkablePath(target);
      links.set(target.id, targetPath);
      return targetPath === null ? null : relativeHref(fromPath, targetPath);
    };
    let bytes = render(resolve);
    if (unseen.size > 0) {
      const more = await this.state.linkTargets([...unseen]);
      if (more.size > 0) {
        for (const [url, target] of more) targets.set(url, target);
        for (const url of unseen) looked.add(url);
        links.clear();
        bytes = render(resolve);
      }
    }
    await this.state.setLinks(fromId, links);
    return bytes;
  }

  private normalized(absoluteUrl: string): string | null {
    try {
      return normalizeUrl(absoluteUrl, this.query);
    } catch {
      return null;
    }
  }

  /** Where a link to this record should point right now: its file, its expected file while it is queued, or nowhere. */
  private linkablePath(target: LinkTarget): string | null {
    // While settling, a URL still queued was not fetched in this run (it was stopped): link to the origin for now.
    if (target.state === 'queued') return this.settling ? null : (target.local_path ?? target.expected_path);
    return settledPath(target);
  }

  /** The file for a URL: its own name, the name of an alias with identical bytes, or a disambiguated name. */
  async claimPath(record: UrlRecord, mediaType: string, bodyHash: string): Promise<{ path: string; sharedWith?: UrlRecord }> {
    const path = localPathFor(record.url, mediaType);
    if (await this.state.claimPath(path, record.id, bodyHash)) return { path };
    const ownerId = await this.state.pathOwner(path);
    const owner = ownerId === undefined ? undefined : await this.state.getById(ownerId);
    const ownerSettled = owner?.state === 'done' || owner?.state === 'queued';
    if (ownerSettled && owner?.sha256 === bodyHash && owner.own_path === path) return { path, sharedWith: owner };
    const alternative = disambiguate(path, record.url);
    await this.state.claimPath(alternative, record.id, bodyHash);
    return { path: alternative };
  }

  private settling = false;

  /** Final pass: links written before their target's outcome was known are rewritten against the final records. */
  async settle(): Promise<number> {
    this.settling = true;
    await this.settleSharedFiles();
    let rewritten = 0;
    for (let pass = 0; pass < SETTLEMENT_PASSES; pass++) {
      await this.writeRedirectFiles();
      const documents = await this.state.unsettledDocuments();
      if (documents.length === 0) break;
      for (const id of documents) {
        const record = await this.state.getById(id);
        if (!record || record.state !== 'done' || !record.sha256 || !record.local_path) continue;
        const body = await this.store.readRaw(record.sha256);
        const document = await openDocument(
          { url: record.url, mediaType: record.content_type ?? '', charset: record.charset ?? undefined, body },
          { canonical: this.canonical, dropScripts: false },
        );
        if (!document) continue;
        const bytes = await this.render(record.id, record.local_path, document.references, document.render.bind(document));
        const fileHash = await this.store.write(record.local_path, bytes);
        await this.state.update(record.id, { file_sha256: fileHash });
        rewritten++;
      }
    }
    return rewritten;
  }

  /**
   * A file shared by aliases with identical bytes (/ and /index.html) is named after the preferred alias, so the
   * mirror is the same whichever was fetched first: ownership moves to it and a document is rendered again
   * under its URL (the canonical link). Aliases also get the final file's hash.
   */
  private async settleSharedFiles(): Promise<void> {
    const pairs = await this.state.sharedFiles();
    const groups = new Map<number, number[]>();
    for (const { ownerId, aliasId } of pairs) groups.set(ownerId, [...(groups.get(ownerId) ?? []), aliasId]);
    for (const [ownerId, aliasIds] of groups) {
      const members = await Promise.all([ownerId, ...aliasIds].map(async (id) => (await this.state.getById(id))!));
      const owner = members[0]!;
      const path = owner.own_path!;
      const preferred = members.find((member) => member.url === preferredAlias(members.map((m) => m.url)))!;
      let fileHash = owner.file_sha256;
      if (preferred.id !== owner.id) {
        await this.state.update(owner.id, { own_path: null, title: null });
        await this.state.setLinks(owner.id, new Map());
        await this.state.update(preferred.id, { own_path: path, title: owner.title });
        await this.state.transferPath(path, preferred.id);
        // Only documents name their URL inside (and only their raw bodies are kept); other files stay as they are.
        const mediaType = preferred.content_type ?? '';
        const isDocument = isHtmlType(mediaType) || mediaType === 'text/css';
        const document = isDocument
          ? await openDocument(
              { url: preferred.url, mediaType, charset: preferred.charset ?? undefined, body: await this.store.readRaw(preferred.sha256!) },
              { canonical: this.canonical, dropScripts: false },
            )
          : null;
        if (document) fileHash = await this.store.write(path, await this.render(preferred.id, path, document.references, document.render.bind(document)));
      }
      for (const member of members) await this.state.update(member.id, { file_sha256: fileHash });
    }
  }

  /** Redirected URLs point at their target's file, and get a small HTML file of their own so old links still work. */
  private async writeRedirectFiles(): Promise<void> {
    const redirected = await this.state.redirectedRecords();
    for (const record of redirected) {
      let target = record.redirect_to === null ? undefined : await this.state.getById(record.redirect_to);
      for (let hops = 0; target?.state === 'redirected' && hops < 20; hops++) target = await this.state.getById(target.redirect_to!);
      const targetPath = target?.state === 'done' ? target.local_path : null;
      if (targetPath === record.local_path && record.own_path !== null) continue;
      let ownPath: string | null = null;
      let ownHash: string | null = null;
      if (targetPath !== null && target && isHtmlType(target.content_type ?? '')) {
        const candidate = localPathFor(record.url, 'text/html');
        if (candidate !== targetPath && (await this.state.claimPath(candidate, record.id, null))) {
          const href = relativeHref(candidate, targetPath);
          const html = `<!doctype html>\n<meta charset="utf-8">\n<title>Moved</title>\n<meta http-equiv="refresh" content="0; url=${escapeAttribute(href)}">\n<link rel="canonical" href="${escapeAttribute(target.url)}">\n<p>This page has moved to <a href="${escapeAttribute(href)}">${escapeAttribute(target.url)}</a>.</p>\n`;
          ownHash = await this.store.write(candidate, html);
          ownPath = candidate;
        }
      }
      await this.state.update(record.id, { local_path: targetPath, own_path: ownPath, file_sha256: ownHash });
    }
  }
}

function escapeAttribute(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
}
