// Public API of @berth/container-logs: Docker's json-file log format. Exports only through this file.
export { JsonFileWriter, LineSplitter, MAX_LINE } from './writer.ts';
export { readLogs, logFiles, type ReadLogsOptions } from './reader.ts';
export { encodeEntry, decodeEntry, jsonString, type LogEntry, type LogStream } from './entry.ts';
export { formatLogLine } from './format.ts';
export { parseJsonFileOptions, parseSize, type JsonFileOptions } from './options.ts';
export { nowNs, formatRfc3339Nano, formatRfc3339NanoFixed, parseRfc3339, parseTimestamp } from './time.ts';
