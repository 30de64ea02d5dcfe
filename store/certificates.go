package store

import (
	"context"

	"github.com/gatehouse-gw/gatehouse/certs"
)

var _ certs.SeenStore = (*DB)(nil)

// SaveSeenCertificate records a party certificate the gateway accepted.
func (d *DB) SaveSeenCertificate(ctx context.Context, c certs.SeenCertificate) error {
	return d.update(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO certificates_seen (fingerprint, party, serial, subject, issuer, not_after, first_seen, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (fingerprint) DO UPDATE SET last_seen = excluded.last_seen, party = excluded.party`,
			c.Fingerprint, c.Party, c.Serial, c.Subject, c.Issuer, utc(c.NotAfter), utc(c.FirstSeen), utc(c.LastSeen))
		return err
	})
}

// SeenCertificates lists the party certificates seen.
func (d *DB) SeenCertificates(ctx context.Context) ([]certs.SeenCertificate, error) {
	return queryAll(ctx, d, func(row scanner) (c certs.SeenCertificate, err error) {
		err = row.Scan(&c.Fingerprint, &c.Party, &c.Serial, &c.Subject, &c.Issuer, &c.NotAfter, &c.FirstSeen, &c.LastSeen)
		c.NotAfter, c.FirstSeen, c.LastSeen = c.NotAfter.UTC(), c.FirstSeen.UTC(), c.LastSeen.UTC()
		return c, err
	}, `SELECT fingerprint, party, serial, subject, issuer, not_after, first_seen, last_seen
		FROM certificates_seen ORDER BY not_after`)
}
