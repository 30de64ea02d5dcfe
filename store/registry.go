package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// Parties returns every registered party, ordered by id.
func (d *DB) Parties(ctx context.Context) ([]*agreements.Party, error) {
	return queryDocs[agreements.Party](ctx, d.db, "SELECT doc FROM parties ORDER BY id")
}

// Party returns one party, or agreements.ErrNotFound.
func (d *DB) Party(ctx context.Context, id string) (*agreements.Party, error) {
	return queryDoc[agreements.Party](ctx, d.db, "SELECT doc FROM parties WHERE id = $1", id)
}

// AgreementVersions returns every version of agreement id ("" for every
// agreement), ordered by id and version.
func (d *DB) AgreementVersions(ctx context.Context, id string) ([]*agreements.Agreement, error) {
	if id == "" {
		return queryDocs[agreements.Agreement](ctx, d.db, "SELECT doc FROM agreements ORDER BY id, version")
	}
	return queryDocs[agreements.Agreement](ctx, d.db, "SELECT doc FROM agreements WHERE id = $1 ORDER BY version", id)
}

// Agreements returns the registry store view of d, with snapshots from cache.
func (d *DB) Agreements(cache *RegistryCache) agreements.Store {
	return registryStore{d: d, cache: cache}
}

type registryStore struct {
	d     *DB
	cache *RegistryCache
}

var (
	_ agreements.Store = registryStore{}
	_ agreements.Tx    = (*tx)(nil)
)

func (r registryStore) Update(ctx context.Context, fn func(agreements.Tx) error) error {
	return r.d.update(ctx, func(t *tx) error { return fn(t) })
}

func (r registryStore) Parties(ctx context.Context) ([]*agreements.Party, error) {
	return r.d.Parties(ctx)
}

func (r registryStore) Party(ctx context.Context, id string) (*agreements.Party, error) {
	return r.d.Party(ctx, id)
}

func (r registryStore) AgreementVersions(ctx context.Context, id string) ([]*agreements.Agreement, error) {
	return r.d.AgreementVersions(ctx, id)
}

func (r registryStore) Snapshot(ctx context.Context) (*agreements.Registry, error) {
	return r.cache.Snapshot(ctx)
}

// LockParty reads a party for update.
func (t *tx) LockParty(ctx context.Context, id string) (*agreements.Party, error) {
	return queryDoc[agreements.Party](ctx, t.tx, "SELECT doc FROM parties WHERE id = $1"+t.d.forUpdate, id)
}

// LockAgreementVersions reads every version of an agreement for update.
func (t *tx) LockAgreementVersions(ctx context.Context, id string) ([]*agreements.Agreement, error) {
	return queryDocs[agreements.Agreement](ctx, t.tx, "SELECT doc FROM agreements WHERE id = $1 ORDER BY version"+t.d.forUpdate, id)
}

// PutParty registers or replaces a party.
func (d *DB) PutParty(ctx context.Context, p *agreements.Party) error {
	return d.update(ctx, func(t *tx) error { return t.PutParty(ctx, p) })
}

// PutAgreement stores a version of an agreement, replacing that version if
// it exists.
func (d *DB) PutAgreement(ctx context.Context, a *agreements.Agreement) error {
	return d.update(ctx, func(t *tx) error { return t.PutAgreement(ctx, a) })
}

// PutParty registers or replaces a party within a transaction.
func (t *tx) PutParty(ctx context.Context, p *agreements.Party) error {
	p.UpdatedAt = utc(p.UpdatedAt)
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO parties (id, kind, status, doc, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, status = excluded.status, doc = excluded.doc, updated_at = excluded.updated_at`,
		p.ID, string(p.Kind), string(p.Status), string(doc), p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("store: put party: %w", err)
	}
	return t.bumpGeneration(ctx)
}

// PutAgreement stores a version of an agreement within a transaction.
func (t *tx) PutAgreement(ctx context.Context, a *agreements.Agreement) error {
	a.CreatedAt, a.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO agreements (id, version, status, doc, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id, version) DO UPDATE SET status = excluded.status, doc = excluded.doc, updated_at = excluded.updated_at`,
		a.ID, a.Version, string(a.Status), string(doc), a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("store: put agreement: %w", err)
	}
	return t.bumpGeneration(ctx)
}

func (t *tx) bumpGeneration(ctx context.Context) error {
	t.registryChanged = true
	_, err := t.exec(ctx, "UPDATE registry_generation SET generation = generation + 1 WHERE id = 1")
	return err
}

// RegistryGeneration returns a number that changes whenever a party or
// agreement does.
func (d *DB) RegistryGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := d.queryRow(ctx, "SELECT generation FROM registry_generation WHERE id = 1").Scan(&g)
	return g, err
}

// LoadRegistry reads a consistent snapshot of every party and the governing
// version of every agreement, with the generation it reflects.
func (d *DB) LoadRegistry(ctx context.Context, policy agreements.Policy) (*agreements.Registry, int64, error) {
	var (
		reg *agreements.Registry
		gen int64
	)
	err := d.read(ctx, func(q querier) error {
		if err := q.QueryRowContext(ctx, "SELECT generation FROM registry_generation WHERE id = 1").Scan(&gen); err != nil {
			return err
		}
		parties, err := queryDocs[agreements.Party](ctx, q, "SELECT doc FROM parties ORDER BY id")
		if err != nil {
			return err
		}
		versions, err := queryDocs[agreements.Agreement](ctx, q, "SELECT doc FROM agreements ORDER BY id, version")
		if err != nil {
			return err
		}
		reg = agreements.NewRegistryWithPolicy(parties, agreements.Governing(versions), policy)
		return nil
	})
	return reg, gen, err
}

// Registry returns a snapshot source that rereads the registry whenever its
// generation changes, so that a suspension on any node takes effect on the
// next request on every node.
func (d *DB) Registry(policy agreements.Policy) *RegistryCache {
	return &RegistryCache{d: d, policy: policy}
}

// RegistryCache caches the registry snapshot between changes.
type RegistryCache struct {
	d      *DB
	policy agreements.Policy
	mu     sync.Mutex
	gen    int64
	snap   *agreements.Registry
}

// Snapshot returns the current registry: the one attached to ctx by the
// request, else the cached one if nothing changed since it was read. On
// SQLite (one node) only this process writes, so a change is known without
// asking the database; on PostgreSQL the generation is read, so that a
// change made on any node is seen by the next request on every node.
func (c *RegistryCache) Snapshot(ctx context.Context) (*agreements.Registry, error) {
	if snap := agreements.RegistryFromContext(ctx); snap != nil {
		return snap, nil
	}
	var (
		gen int64
		err error
	)
	if c.d.driver == SQLite {
		gen = c.d.registryWrites.Load()
		c.mu.Lock()
		if c.snap != nil && gen == c.gen {
			snap := c.snap
			c.mu.Unlock()
			return snap, nil
		}
		c.mu.Unlock()
		snap, _, err := c.d.LoadRegistry(ctx, c.policy)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.snap, c.gen = snap, gen
		c.mu.Unlock()
		return snap, nil
	}
	gen, err = c.d.RegistryGeneration(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != nil && gen == c.gen {
		return c.snap, nil
	}
	snap, loaded, err := c.d.LoadRegistry(ctx, c.policy)
	if err != nil {
		return nil, err
	}
	c.snap, c.gen = snap, loaded
	return snap, nil
}

func queryDoc[T any](ctx context.Context, db querier, query string, args ...any) (*T, error) {
	var doc string
	err := db.QueryRowContext(ctx, query, args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, agreements.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return nil, err
	}
	return v, nil
}

func queryDocs[T any](ctx context.Context, db querier, query string, args ...any) ([]*T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		v := new(T)
		if err := json.Unmarshal([]byte(doc), v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PartyChanges returns the change proposals of a party ("" for every
// party), newest first.
func (d *DB) PartyChanges(ctx context.Context, party string) ([]*agreements.PartyChange, error) {
	return partyChanges(ctx, d.db, party)
}

func partyChanges(ctx context.Context, q querier, party string) ([]*agreements.PartyChange, error) {
	if party == "" {
		return queryDocs[agreements.PartyChange](ctx, q, "SELECT doc FROM party_changes ORDER BY proposed_at DESC, id DESC")
	}
	return queryDocs[agreements.PartyChange](ctx, q, "SELECT doc FROM party_changes WHERE party = $1 ORDER BY proposed_at DESC, id DESC", party)
}

// PartyChange returns one change proposal, or agreements.ErrNotFound.
func (d *DB) PartyChange(ctx context.Context, id string) (*agreements.PartyChange, error) {
	return queryDoc[agreements.PartyChange](ctx, d.db, "SELECT doc FROM party_changes WHERE id = $1", id)
}

func (r registryStore) PartyChanges(ctx context.Context, party string) ([]*agreements.PartyChange, error) {
	return r.d.PartyChanges(ctx, party)
}

func (r registryStore) PartyChange(ctx context.Context, id string) (*agreements.PartyChange, error) {
	return r.d.PartyChange(ctx, id)
}

// PartyChanges reads the change proposals of a party within a transaction.
func (t *tx) PartyChanges(ctx context.Context, party string) ([]*agreements.PartyChange, error) {
	return partyChanges(ctx, t.tx, party)
}

// LockPartyChange reads a change proposal for update.
func (t *tx) LockPartyChange(ctx context.Context, id string) (*agreements.PartyChange, error) {
	return queryDoc[agreements.PartyChange](ctx, t.tx, "SELECT doc FROM party_changes WHERE id = $1"+t.d.forUpdate, id)
}

// PutPartyChange stores a change proposal within a transaction. At most one
// proposal per party is open (a unique index, party_changes_open).
func (t *tx) PutPartyChange(ctx context.Context, c *agreements.PartyChange) error {
	c.ProposedAt, c.DecidedAt = utc(c.ProposedAt), utc(c.DecidedAt)
	doc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO party_changes (id, party, status, proposed_at, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc`,
		c.ID, c.Party, string(c.Status), c.ProposedAt, string(doc))
	if err != nil {
		return fmt.Errorf("store: put party change: %w", err)
	}
	return nil
}
