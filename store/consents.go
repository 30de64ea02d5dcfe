package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

const consentColumns = "id, party, consent_ref, subject_key, purposes, given_at, withdrawn_at, withdrawn_by, recorded_by, recorded_at"

func scanConsent(row scanner) (*exchange.Consent, error) {
	var (
		c         exchange.Consent
		purposes  string
		withdrawn sql.NullTime
	)
	err := row.Scan(&c.ID, &c.Party, &c.ConsentRef, &c.SubjectKey, &purposes, &c.GivenAt, &withdrawn, &c.WithdrawnBy, &c.RecordedBy, &c.RecordedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compliance.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.Purposes = strings.Fields(purposes)
	c.GivenAt, c.RecordedAt, c.WithdrawnAt = c.GivenAt.UTC(), c.RecordedAt.UTC(), timeOf(withdrawn)
	return &c, nil
}

// Consents returns party's consent records under ref, in subject key order.
func (s exchangeStore) Consents(ctx context.Context, party, ref string) ([]*exchange.Consent, error) {
	return queryAll(ctx, s.d, scanConsent, "SELECT "+consentColumns+" FROM consents WHERE party = $1 AND consent_ref = $2 ORDER BY subject_key", party, ref)
}

// Consents lists the consent register, or one party's part of it, in the
// order recorded.
func (s complianceStore) Consents(ctx context.Context, party string) ([]*exchange.Consent, error) {
	if party == "" {
		return queryAll(ctx, s.d, scanConsent, "SELECT "+consentColumns+" FROM consents ORDER BY recorded_at, id")
	}
	return queryAll(ctx, s.d, scanConsent, "SELECT "+consentColumns+" FROM consents WHERE party = $1 ORDER BY recorded_at, id", party)
}

// Consent returns one consent record.
func (s complianceStore) Consent(ctx context.Context, id string) (*exchange.Consent, error) {
	return scanConsent(s.d.queryRow(ctx, "SELECT "+consentColumns+" FROM consents WHERE id = $1", id))
}

// CreateConsent records a consent; compliance.ErrConsentExists if the party
// already holds one under that reference for that subject.
func (t *tx) CreateConsent(ctx context.Context, c *exchange.Consent) error {
	res, err := t.exec(ctx, `INSERT INTO consents (`+consentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (party, consent_ref, subject_key) DO NOTHING`,
		c.ID, c.Party, c.ConsentRef, c.SubjectKey, strings.Join(c.Purposes, " "), utc(c.GivenAt), nullTime(c.WithdrawnAt), c.WithdrawnBy,
		c.RecordedBy, utc(c.RecordedAt))
	if err != nil {
		return fmt.Errorf("store: consent: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return compliance.ErrConsentExists
	}
	return nil
}

// LockConsent reads a consent record for update.
func (t *tx) LockConsent(ctx context.Context, id string) (*exchange.Consent, error) {
	return scanConsent(t.queryRow(ctx, "SELECT "+consentColumns+" FROM consents WHERE id = $1"+t.d.forUpdate, id))
}

// WithdrawConsent records the withdrawal of a consent.
func (t *tx) WithdrawConsent(ctx context.Context, c *exchange.Consent) error {
	_, err := t.exec(ctx, "UPDATE consents SET withdrawn_at = $2, withdrawn_by = $3 WHERE id = $1", c.ID, nullTime(c.WithdrawnAt), c.WithdrawnBy)
	return err
}
