"""Product search in the database: lexical indexes, ivfflat probes, a search function.

- ``pg_trgm`` and two GIN indexes on ``retail.products`` for the lexical half of hybrid
  search: full text on the weighted name + description document
  (a literal copy of ``zava.db.search_document.SEARCH_DOCUMENT``, the expression the
  repository queries: a migration never imports live code, and a test checks the two
  are equal), and trigrams on the name (typos, part words).
- ``retail.ivfflat_probes()``: how many ivfflat lists a query scans, derived from the
  index's ``lists``: 1.25 sqrt(lists) (one place, used by the server and the SQL function).
- ``retail.search_products_by_description(query_embedding, similarity_threshold,
  max_results)``: the architecture lab's search function, so DBAs and other clients can
  search without the server. SECURITY INVOKER: it reads with the caller's privileges.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READERS = ("zava_reader", "zava_store_reader")
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, name), 'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, description), 'B'::\"char\")"
)
SEARCH_SIGNATURE = "retail.search_products_by_description(vector, double precision, integer)"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_products_search_document ON retail.products "
        f"USING gin (({SEARCH_DOCUMENT}))"
    )
    op.execute(
        "CREATE INDEX ix_products_name_trgm ON retail.products USING gin (name gin_trgm_ops)"
    )

    # No percent signs in this SQL: the offline script (alembic --sql) escapes them.
    # 1.25 sqrt(lists) probes: on a synthetic 1M-vector table (benchmarks/vector_index.py)
    # sqrt(lists) gave recall@10 0.944 of an exact scan and 1.25 sqrt(lists) 0.957; the
    # demo catalog's single list makes it an exact scan.
    op.execute(r"""
    CREATE FUNCTION retail.ivfflat_probes() RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT least(lists, ceil(1.25 * sqrt(lists)))::integer
        FROM (SELECT coalesce((
            SELECT substring(option FROM '^lists=([0-9]+)$')::integer
            FROM pg_class AS c, unnest(c.reloptions) AS option
            WHERE c.oid = to_regclass('retail.ix_product_description_embeddings_embedding')
              AND starts_with(option, 'lists=')), 1) AS lists) AS ivfflat
    $$""")
    op.execute("""
    COMMENT ON FUNCTION retail.ivfflat_probes() IS
        'ivfflat.probes for the product vector index: 1.25 sqrt(lists), at most lists'
    """)

    op.execute("""
    CREATE FUNCTION retail.search_products_by_description(
        query_embedding vector,
        similarity_threshold double precision DEFAULT 0.7,
        max_results integer DEFAULT 20)
    RETURNS TABLE (product_id uuid, product_name text, product_description text,
                   similarity_score double precision)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        space record;
    BEGIN
        IF max_results IS NULL OR max_results < 1 OR max_results > 1000 THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'max_results must be between 1 and 1000, got '
                          || coalesce(max_results::text, 'NULL');
        END IF;
        IF similarity_threshold IS NULL OR similarity_threshold < 0
           OR similarity_threshold > 1 THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'similarity_threshold is a fraction from 0 to 1 (0.7 means 70 percent), '
                          || 'got ' || coalesce(similarity_threshold::text, 'NULL');
        END IF;
        SELECT s.model_name, s.dimension INTO space FROM retail.embedding_space AS s;
        IF query_embedding IS NULL OR vector_dims(query_embedding) <> space.dimension THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'query_embedding has '
                          || coalesce(vector_dims(query_embedding)::text, 'no')
                          || ' dimensions, but the catalog vectors have ' || space.dimension
                          || ' (model ' || space.model_name || ')',
                HINT = 'embed the query with that model, or re-embed the catalog '
                       'with your model: zava db reembed';
        END IF;
        PERFORM set_config('ivfflat.probes', retail.ivfflat_probes()::text, true);
        RETURN QUERY
            SELECT p.product_id, p.name, p.description, nearest.similarity
            FROM (
                SELECT e.product_id AS id,
                       1 - (e.embedding <=> query_embedding) AS similarity
                FROM retail.product_description_embeddings AS e
                ORDER BY e.embedding <=> query_embedding
                LIMIT max_results
            ) AS nearest
            JOIN retail.products AS p ON p.product_id = nearest.id
            WHERE nearest.similarity >= similarity_threshold
            ORDER BY nearest.similarity DESC, p.product_id;
    END
    $$""")
    op.execute(f"""
    COMMENT ON FUNCTION {SEARCH_SIGNATURE} IS
        'Products whose description is closest in meaning to query_embedding (cosine), '
        'best first: the max_results nearest, kept if similarity >= similarity_threshold'
    """)
    for function in ("retail.ivfflat_probes()", SEARCH_SIGNATURE):
        op.execute(f"ALTER FUNCTION {function} OWNER TO zava_owner")
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {', '.join(READERS)}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SEARCH_SIGNATURE}")
    op.execute("DROP FUNCTION retail.ivfflat_probes()")
    op.execute("DROP INDEX retail.ix_products_name_trgm")
    op.execute("DROP INDEX retail.ix_products_search_document")
    # Another schema may use pg_trgm too: then the extension stays.
    op.execute("""
    DO $$
    BEGIN
        DROP EXTENSION IF EXISTS pg_trgm;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE NOTICE 'extension pg_trgm is still used elsewhere; kept';
    END
    $$""")
