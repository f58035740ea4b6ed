/**
 * The merge's defaults when a caller passes none. The policy
 * (.agentgit/config.json, policy/defaults.ts) starts from these and passes
 * its own values in (MergeInput.json, mergeFile's maxBytes): merge/ never
 * imports policy/.
 */
export const DEFAULT_JSON = {
  idKeys: ['id', 'uuid', 'key'],
  volatile: ['last_updated', 'lastUpdated', 'updated_at', 'updatedAt', 'updatedAtMs', 'lastUpdatedAt', 'lastUpdatedAtMs'],
  counters: [] as string[],
  timestampKeys: ['updated_at', 'updatedAt', 'updatedAtMs', 'modified_at', 'modifiedAt'],
};

/** Files larger than this are not merged by content: whole-file last writer wins. */
export const DEFAULT_MAX_MERGE_BYTES = 64 * 1024 * 1024;
