"""The schema: one migration script per version, applied in order (PRAGMA user_version = how many are
applied). A migration is never edited once released; a change is a new script appended at the end."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: feeds, items, stories, hits, subscribers, subscriptions, deliveries
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        interval_s INTEGER NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        in_config INTEGER NOT NULL DEFAULT 1,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        next_poll_at TEXT,
        last_polled_at TEXT,
        last_ok_at TEXT,
        last_new_item_at TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        failing_since TEXT,
        last_error TEXT,
        last_status INTEGER,
        paused_reason TEXT,
        note TEXT
    );
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        url TEXT,
        canonical_url TEXT,
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        published_at TEXT,
        n_items INTEGER NOT NULL DEFAULT 1,
        n_feeds INTEGER NOT NULL DEFAULT 1,
        signature TEXT
    );
    CREATE INDEX stories_canonical_url ON stories(canonical_url);
    CREATE INDEX stories_first_seen ON stories(first_seen_at);
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        url TEXT,
        canonical_url TEXT,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        published_at TEXT,
        fetched_at TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        extra TEXT,
        UNIQUE(feed_id, key)
    );
    CREATE INDEX items_canonical_url ON items(canonical_url);
    CREATE INDEX items_story ON items(story_id);
    CREATE INDEX items_fetched ON items(fetched_at);
    CREATE TABLE hits (
        id INTEGER PRIMARY KEY,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        topic TEXT NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        matched TEXT NOT NULL,
        created_at TEXT NOT NULL,
        reported_at TEXT,
        UNIQUE(story_id, topic)
    );
    CREATE INDEX hits_unreported ON hits(reported_at) WHERE reported_at IS NULL;
    CREATE TABLE subscribers (
        chat_id INTEGER PRIMARY KEY,
        thread_id INTEGER,
        kind TEXT NOT NULL DEFAULT 'private',
        title TEXT,
        mode TEXT NOT NULL DEFAULT 'instant',
        digest_times TEXT NOT NULL DEFAULT '["08:00","18:00"]',
        timezone TEXT NOT NULL DEFAULT 'UTC',
        active INTEGER NOT NULL DEFAULT 1,
        blocked_reason TEXT,
        last_digest_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE subscriptions (
        chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
        topic TEXT NOT NULL,
        PRIMARY KEY (chat_id, topic)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        topic TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error TEXT,
        message_ids TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE(chat_id, story_id)
    );
    CREATE INDEX deliveries_pending ON deliveries(status, next_attempt_at);
    """,
    # 2: paused subscribers, stored digest schedule, per-chat outbox lookups
    """
    ALTER TABLE subscribers ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE subscribers ADD COLUMN next_digest_at TEXT;
    CREATE INDEX subscribers_digest ON subscribers(mode, next_digest_at);
    CREATE INDEX deliveries_chat ON deliveries(chat_id, status, sent_at);
    """,
    # 3: stories as events: term document frequencies, a story's language, candidate lookups by topic
    """
    CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
    ALTER TABLE stories ADD COLUMN lang TEXT;
    CREATE INDEX hits_topic_story ON hits(topic, story_id);
    CREATE INDEX stories_last_seen ON stories(last_seen_at);
    """,
    # 4: surges (one row per surge of a topic; open while ended_at is NULL), the chats that opted in to
    # surge alerts and their outbox, and which feeds failed in which hour (for the /stats chart)
    """
    CREATE TABLE surges (
        id INTEGER PRIMARY KEY,
        topic TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        recent INTEGER NOT NULL,
        baseline REAL NOT NULL,
        threshold REAL NOT NULL,
        window_h INTEGER NOT NULL,
        stories TEXT NOT NULL
    );
    CREATE INDEX surges_open ON surges(topic) WHERE ended_at IS NULL;
    CREATE TABLE surge_chats (
        chat_id INTEGER PRIMARY KEY REFERENCES subscribers(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE surge_deliveries (
        id INTEGER PRIMARY KEY,
        surge_id INTEGER NOT NULL REFERENCES surges(id),
        chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        message_ids TEXT,
        sent_at TEXT,
        UNIQUE(surge_id, chat_id)
    );
    CREATE INDEX surge_deliveries_pending ON surge_deliveries(status, next_attempt_at);
    CREATE TABLE feed_failures (
        hour TEXT NOT NULL,
        feed_id INTEGER NOT NULL,
        PRIMARY KEY (hour, feed_id)
    ) WITHOUT ROWID;
    """,
    # 5: personal watches; a removed watch stays as a row without its query, so that parse workers
    # catching up by version learn of the removal
    """
    CREATE TABLE watches (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        name TEXT,
        query TEXT NOT NULL,
        created_at TEXT NOT NULL,
        removed INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL
    );
    CREATE INDEX watches_chat ON watches(chat_id) WHERE removed = 0;
    CREATE UNIQUE INDEX watches_version ON watches(version);
    """,
    # 6: alerts that grow with their story (what a sent message showed, when it was last edited) and the
    # story lists behind "+N more" buttons and /latest pages
    """
    ALTER TABLE deliveries ADD COLUMN shown_as TEXT;
    ALTER TABLE deliveries ADD COLUMN shown_feeds INTEGER;
    ALTER TABLE deliveries ADD COLUMN edited_at TEXT;
    CREATE INDEX deliveries_growing ON deliveries(sent_at) WHERE shown_as = 'alert';
    CREATE TABLE story_lists (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        origin TEXT NOT NULL,
        title TEXT NOT NULL,
        story_ids TEXT NOT NULL,
        shown_before INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX story_lists_created ON story_lists(created_at);
    """,
    # 7: the send gate's flood hold and group windows, kept across restarts (chat NULL: the hold)
    """
    CREATE TABLE send_windows (chat TEXT, until REAL NOT NULL);
    CREATE INDEX send_windows_until ON send_windows(until);
    """,
    # 8: hot-path indexes: clustering candidates are read from the stories that have a hit (a partial
    # index kept by a trigger on hits), so the stories of items that matched nothing cost them nothing;
    # a feed's newest items; a story's items by feed (replaces items_story, of which it is an extension:
    # with items_feed_recent beside it, a lookup by story and feed must not be read by feed alone);
    # subscriptions by topic (each new hit queues its topic's chats)
    """
    ALTER TABLE stories ADD COLUMN has_hits INTEGER NOT NULL DEFAULT 0;
    UPDATE stories SET has_hits = 1 WHERE id IN (SELECT story_id FROM hits);
    CREATE INDEX stories_hit_seen ON stories(last_seen_at) WHERE has_hits = 1;
    CREATE TRIGGER hits_mark_story AFTER INSERT ON hits BEGIN
        UPDATE stories SET has_hits = 1 WHERE id = NEW.story_id AND has_hits = 0;
    END;
    CREATE INDEX items_feed_recent ON items(feed_id, id);
    CREATE INDEX items_story_feed ON items(story_id, feed_id);
    DROP INDEX items_story;
    CREATE INDEX subscriptions_topic ON subscriptions(topic);
    """,
    # 9: word forms analysed from the lemma dictionaries (storage.wordforms), by dictionary generation
    """
    CREATE TABLE word_forms (word TEXT PRIMARY KEY, analysis TEXT NOT NULL, generation TEXT NOT NULL) WITHOUT ROWID;
    """,
    # 10: an item that matched nothing has no story (items.story_id NULL). SQLite cannot alter a column:
    # dropping a NOT NULL constraint changes no stored row, so the table's CREATE text is edited in place
    # (sqlite.org/lang_altertable.html, "other kinds of table schema changes"); the table created and
    # dropped after it changes the schema cookie, so every other connection rereads the schema.
    # open_database reopens its own.
    """
    PRAGMA writable_schema=ON;
    UPDATE sqlite_schema SET sql = replace(sql, 'story_id INTEGER NOT NULL REFERENCES stories(id)',
        'story_id INTEGER REFERENCES stories(id)') WHERE type = 'table' AND name = 'items';
    PRAGMA writable_schema=OFF;
    CREATE TABLE schema_touched (x);
    DROP TABLE schema_touched;
    """,
    # 11: the lookups by story and by canonical URL only ever want items in a story: items that matched
    # nothing (most of them) stay out of those two indexes
    """
    DROP INDEX items_story_feed;
    CREATE INDEX items_story_feed ON items(story_id, feed_id) WHERE story_id IS NOT NULL;
    DROP INDEX items_canonical_url;
    CREATE INDEX items_canonical_url ON items(canonical_url) WHERE story_id IS NOT NULL;
    """,
    # 12: a story's language-independent anchors (numbers, names; bot.crosslang), for joining reports
    # of one event in another language
    """
    ALTER TABLE stories ADD COLUMN anchors TEXT;
    """,
    # 13: digests of the item elements of the body last stored (read by the fast path), so that the
    # elements a changed body repeats are not read again (bot.sources.fastrss)
    """
    ALTER TABLE feeds ADD COLUMN item_digests TEXT;
    """,
    # 14: the recent stories with hits by language too: a story in the item's language is passed over
    # (for the cross-language candidates) or taken (for the same-language ones) from the index alone,
    # without reading its row
    """
    DROP INDEX stories_hit_seen;
    CREATE INDEX stories_hit_seen ON stories(last_seen_at, lang) WHERE has_hits = 1;
    """,
]
