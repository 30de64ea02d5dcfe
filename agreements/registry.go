package agreements

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Registry is an immutable snapshot of the registered parties and the
// current version of every agreement. Decide reads only from a snapshot, so
// a decision never sees a half-applied change.
type Registry struct {
	parties    map[string]*Party
	agreements map[string]*Agreement
	policy     Policy
}

// NewRegistry builds a snapshot with DefaultPolicy. agreements holds the
// governing version of each agreement; a later duplicate id replaces an
// earlier one.
func NewRegistry(parties []*Party, agreements []*Agreement) *Registry {
	return NewRegistryWithPolicy(parties, agreements, DefaultPolicy)
}

// NewRegistryWithPolicy builds a snapshot with the given policy.
func NewRegistryWithPolicy(parties []*Party, agreements []*Agreement, policy Policy) *Registry {
	r := &Registry{
		parties:    make(map[string]*Party, len(parties)),
		agreements: make(map[string]*Agreement, len(agreements)),
		policy:     policy,
	}
	for _, p := range parties {
		r.parties[p.ID] = p
	}
	for _, a := range agreements {
		r.agreements[a.ID] = a
	}
	return r
}

// Policy returns the decision policy.
func (r *Registry) Policy() Policy {
	if r == nil {
		return DefaultPolicy
	}
	return r.policy
}

// Party returns the party with id, or nil.
func (r *Registry) Party(id string) *Party {
	if r == nil {
		return nil
	}
	return r.parties[id]
}

// Agreement returns the current version of the agreement with id, or nil.
func (r *Registry) Agreement(id string) *Agreement {
	if r == nil {
		return nil
	}
	return r.agreements[id]
}

// Parties returns every party, in no particular order.
func (r *Registry) Parties() []*Party {
	out := make([]*Party, 0, len(r.parties))
	for _, p := range r.parties {
		out = append(out, p)
	}
	return out
}

// Agreements returns the current version of every agreement, in no particular order.
func (r *Registry) Agreements() []*Agreement {
	out := make([]*Agreement, 0, len(r.agreements))
	for _, a := range r.agreements {
		out = append(out, a)
	}
	return out
}

// Ref formats an agreement reference id@version.
func Ref(id string, version int) string { return id + "@" + strconv.Itoa(version) }

// ParseRef splits id@version.
func ParseRef(ref string) (id string, version int, err error) {
	id, v, ok := strings.Cut(ref, "@")
	if !ok {
		return "", 0, fmt.Errorf("%q is not an agreement reference (want id@version)", ref)
	}
	version, err = strconv.Atoi(v)
	if err != nil || version < 1 {
		return "", 0, fmt.Errorf("%q is not an agreement reference (want id@version)", ref)
	}
	return id, version, nil
}

// Governing picks, from every stored version of every agreement, the version
// that governs sharing: the latest version that has been in force (active,
// suspended, terminated or expired). A newer draft or approved version does
// not displace it until it is activated. An agreement that has never been in
// force is represented by its latest version, so that Decide can say why it
// does not apply.
func Governing(versions []*Agreement) []*Agreement {
	byID := make(map[string]*Agreement)
	var order []string
	for _, a := range versions {
		cur, seen := byID[a.ID]
		if !seen {
			order = append(order, a.ID)
			byID[a.ID] = a
			continue
		}
		switch {
		case a.Status.InForce() && (!cur.Status.InForce() || a.Version > cur.Version):
			byID[a.ID] = a
		case !a.Status.InForce() && !cur.Status.InForce() && a.Version > cur.Version:
			byID[a.ID] = a
		}
	}
	out := make([]*Agreement, len(order))
	for i, id := range order {
		out[i] = byID[id]
	}
	return out
}

type registryKey struct{}

// ContextWithRegistry attaches a registry snapshot to ctx, so that every part
// of one request decides against the same snapshot (and reads it once).
func ContextWithRegistry(ctx context.Context, r *Registry) context.Context {
	return context.WithValue(ctx, registryKey{}, r)
}

// RegistryFromContext returns the snapshot attached to ctx, or nil.
func RegistryFromContext(ctx context.Context) *Registry {
	r, _ := ctx.Value(registryKey{}).(*Registry)
	return r
}
