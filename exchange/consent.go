package exchange

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Consent is one entry of the consent register: a data subject's consent,
// given to a sending party under a reference, to the purposes it covers.
// The subject is held only as its keyed digest, never the identifier.
type Consent struct {
	ID         string
	Party      string
	ConsentRef string
	SubjectKey string
	Purposes   []string
	GivenAt    time.Time
	// WithdrawnAt is when the consent was withdrawn (zero: it stands), and
	// WithdrawnBy who recorded the withdrawal.
	WithdrawnAt time.Time
	WithdrawnBy string
	RecordedBy  string
	RecordedAt  time.Time
}

// Withdrawn reports whether the consent was withdrawn at or before now.
func (c *Consent) Withdrawn(now time.Time) bool {
	return !c.WithdrawnAt.IsZero() && !c.WithdrawnAt.After(now)
}

// Covers reports whether the consent covers purpose; purposes are compared
// as codes, whatever their case.
func (c *Consent) Covers(purpose string) bool {
	return slices.ContainsFunc(c.Purposes, func(p string) bool { return strings.EqualFold(p, strings.TrimSpace(purpose)) })
}

// Why a cited consent record does not bear out a disclosure.
const (
	ConsentMissing      = "missing"
	ConsentWithdrawn    = "withdrawn"
	ConsentOtherSubject = "wrong-subject"
	ConsentOtherPurpose = "wrong-purpose"
	ConsentNotYetGiven  = "not-yet-given"
)

// ConsentFinding is what the register says of one subject's cited consent:
// Reason is empty when the consent holds.
type ConsentFinding struct {
	Subject    int // index into the declaration's subjects
	ConsentRef string
	Reason     string
}

// Message is the finding as a decision's check states it: the subject by
// its place in the declaration, never by its identifier.
func (f ConsentFinding) Message(party, purpose string) string {
	subject := valid.Path("subjects", f.Subject)
	switch f.Reason {
	case ConsentMissing:
		if f.ConsentRef == "" {
			return subject + ": no consent record is cited"
		}
		return fmt.Sprintf("%s: %s has no consent record %s", subject, party, q(f.ConsentRef))
	case ConsentWithdrawn:
		return fmt.Sprintf("%s: consent %s was withdrawn", subject, q(f.ConsentRef))
	case ConsentOtherSubject:
		return fmt.Sprintf("%s: consent %s was given by another subject", subject, q(f.ConsentRef))
	case ConsentOtherPurpose:
		return fmt.Sprintf("%s: consent %s does not cover the purpose %s", subject, q(f.ConsentRef), q(purpose))
	case ConsentNotYetGiven:
		return fmt.Sprintf("%s: consent %s is recorded as given later than now", subject, q(f.ConsentRef))
	}
	return subject + ": consent " + q(f.ConsentRef) + " stands"
}

// subjectConsentRefs pairs each named subject with the consent record cited
// for it ("" where none): a subject's own consent_ref, or the declaration's
// when it names one subject. The stored list keeps only the refs given, in
// order, so it pairs with the subjects only when every subject cites one.
func (m *Meta) subjectConsentRefs() []string {
	refs := make([]string, len(m.SubjectKeys))
	switch {
	case len(m.SubjectConsentRefs) == len(m.SubjectKeys):
		copy(refs, m.SubjectConsentRefs)
	case len(m.SubjectKeys) == 1 && m.ConsentRef != "":
		refs[0] = m.ConsentRef
	}
	return refs
}

// CheckConsents looks up, for a disclosure by party for purpose, the
// consent cited for each subject in the register: it holds when party
// recorded it under that reference, for that subject, covering the purpose,
// given by now and not withdrawn. lookup returns party's records under one
// reference. The findings are in subject order; the first problem found for
// a subject is its reason.
func CheckConsents(ctx context.Context, lookup func(ctx context.Context, party, ref string) ([]*Consent, error),
	party, purpose string, m *Meta, now time.Time) ([]ConsentFinding, error) {
	refs := m.subjectConsentRefs()
	cache := map[string][]*Consent{}
	out := make([]ConsentFinding, len(refs))
	for i, ref := range refs {
		out[i] = ConsentFinding{Subject: i, ConsentRef: ref}
		if ref == "" {
			out[i].Reason = ConsentMissing
			continue
		}
		records, ok := cache[ref]
		if !ok {
			var err error
			if records, err = lookup(ctx, party, ref); err != nil {
				return nil, err
			}
			cache[ref] = records
		}
		out[i].Reason = consentReason(records, m.SubjectKeys[i], purpose, now)
	}
	return out, nil
}

// consentReason judges the records under one reference for one subject.
func consentReason(records []*Consent, subjectKey, purpose string, now time.Time) string {
	if len(records) == 0 {
		return ConsentMissing
	}
	i := slices.IndexFunc(records, func(c *Consent) bool { return c.SubjectKey == subjectKey })
	if i < 0 {
		return ConsentOtherSubject
	}
	c := records[i]
	switch {
	case c.Withdrawn(now):
		return ConsentWithdrawn
	case c.GivenAt.After(now):
		return ConsentNotYetGiven
	case !c.Covers(purpose):
		return ConsentOtherPurpose
	}
	return ""
}

// applyConsents puts what the register said into the decision's request:
// the number of subjects whose consent holds, and why the others' does not.
func applyConsents(req *agreements.Request, findings []ConsentFinding) {
	held := 0
	var problems []string
	for _, f := range findings {
		if f.Reason == "" {
			held++
			continue
		}
		if len(problems) < 5 {
			problems = append(problems, f.Message(req.Sender, req.Purpose))
		}
	}
	if n := len(findings) - held; n > len(problems) {
		problems = append(problems, fmt.Sprintf("and %d more", n-len(problems)))
	}
	req.ConsentRecords = held
	req.ConsentLookedUp = true
	req.ConsentProblems = strings.Join(problems, "; ")
}
