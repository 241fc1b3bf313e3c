/** The steps of migrate_schema_in_place, in the only order they may run (external pointers before lineage). */
export const IN_PLACE_STEPS = ['update_blob_comments', 'migrate_external_storage', 'add_lineage_table'] as const;
export type InPlaceStep = (typeof IN_PLACE_STEPS)[number];
