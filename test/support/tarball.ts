import { gzipSync } from "node:zlib";

/** One file of a commit, as the GitHub stand-in stores it. */
export interface TarEntry {
  path: string;
  content: Buffer;
  /** Unix mode; 0o644 unless the file is executable (0o755). */
  mode?: number;
}

const BLOCK = 512;

/**
 * Builds a gzipped tarball the way GitHub's `GET /repos/{o}/{r}/tarball/{ref}` does:
 * a pax global header carrying the commit SHA (`comment=`), then every file under
 * one top-level directory (`owner-repo-shortsha/`), directories included.
 */
export function buildTarball(topDir: string, sha: string, files: TarEntry[], mtime = new Date()): Buffer {
  const seconds = Math.floor(mtime.getTime() / 1000);
  const blocks: Buffer[] = [];
  const pax = paxRecord("comment", sha);
  blocks.push(header({ name: "pax_global_header", size: pax.length, mode: 0o666, type: "g", mtime: seconds }));
  blocks.push(pad(pax));

  const dirs = new Set<string>([`${topDir}/`]);
  for (const file of files) {
    const parts = file.path.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${topDir}/${parts.slice(0, i).join("/")}/`);
  }
  for (const dir of [...dirs].sort()) {
    blocks.push(header({ name: dir, size: 0, mode: 0o775, type: "5", mtime: seconds }));
  }
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const name = `${topDir}/${file.path}`;
    if (!splitName(name)) {
      const long = Buffer.from(paxRecord("path", name));
      blocks.push(header({ name: "PaxHeader", size: long.length, mode: 0o644, type: "x", mtime: seconds }));
      blocks.push(pad(long));
    }
    blocks.push(header({ name, size: file.content.length, mode: file.mode ?? 0o644, type: "0", mtime: seconds }));
    blocks.push(pad(file.content));
  }
  blocks.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(blocks));
}

function paxRecord(key: string, value: string): Buffer {
  // A record is "<len> <key>=<value>\n" where <len> counts itself.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return Buffer.from(`${len}${body}`);
}

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

interface HeaderFields {
  name: string;
  size: number;
  mode: number;
  type: "0" | "5" | "g" | "x";
  mtime: number;
}

function header(h: HeaderFields): Buffer {
  const buf = Buffer.alloc(BLOCK);
  const { name, prefix } = splitName(h.name) ?? { name: h.name.slice(0, 100), prefix: "" };
  buf.write(name, 0, 100, "utf8");
  octal(buf, 100, 8, h.mode);
  octal(buf, 108, 8, 0);
  octal(buf, 116, 8, 0);
  octal(buf, 124, 12, h.size);
  octal(buf, 136, 12, h.mtime);
  buf.write("        ", 148, 8, "ascii");
  buf.write(h.type, 156, 1, "ascii");
  buf.write("ustar\u000000", 257, 8, "ascii");
  buf.write("root", 265, 32, "ascii");
  buf.write("root", 297, 32, "ascii");
  buf.write(prefix.slice(0, 155), 345, 155, "utf8");
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  return buf;
}

/** ustar stores long names as prefix (≤ 155 bytes) + "/" + name (≤ 100 bytes). */
function splitName(full: string): { name: string; prefix: string } | null {
  if (Buffer.byteLength(full) <= 100) return { name: full, prefix: "" };
  for (let i = full.indexOf("/"); i !== -1 && i < full.length - 1; i = full.indexOf("/", i + 1)) {
    const prefix = full.slice(0, i);
    const name = full.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  return null;
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "ascii");
}
