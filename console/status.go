package console

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/certs"
)

// Status is the audit record's state.
type Status interface {
	Audit(ctx context.Context) (AuditStatus, error)
}

// AuditStatus is what the home page says of the audit record.
type AuditStatus struct {
	// VerifiedAt is when this node last verified the whole record (zero:
	// not yet since it started); VerifyFailed is what was wrong, if it did
	// not verify.
	VerifiedAt   time.Time
	VerifyFailed string
	VerifyEvery  time.Duration
	// LastCheckpoint is when the last checkpoint was signed (zero: none).
	LastCheckpoint time.Time
	// Unarchived is the age of the oldest entry no archived checkpoint
	// covers; past StaleAfter the checkpoints are stale.
	Unarchived, StaleAfter time.Duration
}

// State colours: the GOV.UK tag each state is shown in.
const (
	stateGood  = "govuk-tag--green"
	stateAmber = "govuk-tag--yellow"
	stateRed   = "govuk-tag--red"
)

type statusLine struct {
	Tag, Label, Text string
}

// auditLines say, in words and a colour, whether the record last verified
// and whether its checkpoints keep up: red for a record that does not
// verify or checkpoints past their stale limit; amber for a verification
// overdue (twice its interval) or not yet run, or checkpoints half-way
// to stale.
func auditLines(st AuditStatus, now time.Time, london func(time.Time) string) (verify, checkpoint statusLine) {
	switch {
	case st.VerifyFailed != "":
		verify = statusLine{stateRed, "Does not verify", "Last verified " + london(st.VerifiedAt) + ": " + st.VerifyFailed + ". Run gatehouse audit verify and find out what changed the record."}
	case st.VerifiedAt.IsZero():
		verify = statusLine{stateAmber, "Not yet verified", "This gateway has not verified the record since it started; it does every " + humanDuration(st.VerifyEvery) + "."}
	case st.VerifyEvery > 0 && now.Sub(st.VerifiedAt) > 2*st.VerifyEvery:
		verify = statusLine{stateAmber, "Verification overdue", "Last verified " + london(st.VerifiedAt) + " (" + humanDuration(now.Sub(st.VerifiedAt)) + " ago), which is more than twice the interval of " + humanDuration(st.VerifyEvery) + "."}
	default:
		verify = statusLine{stateGood, "Verified", "Last verified " + london(st.VerifiedAt) + " (" + humanDuration(max(0, now.Sub(st.VerifiedAt))) + " ago): every entry, link and checkpoint checked."}
	}
	last := "No checkpoint has been signed yet."
	if !st.LastCheckpoint.IsZero() {
		last = "Last checkpoint signed " + london(st.LastCheckpoint) + " (" + humanDuration(max(0, now.Sub(st.LastCheckpoint))) + " ago)."
	}
	switch {
	case st.StaleAfter > 0 && st.Unarchived > st.StaleAfter:
		checkpoint = statusLine{stateRed, "Stale", last + " Entries have waited " + humanDuration(st.Unarchived) + " for a signed, archived checkpoint (the limit is " + humanDuration(st.StaleAfter) + ")."}
	case st.StaleAfter > 0 && st.Unarchived > st.StaleAfter/2:
		checkpoint = statusLine{stateAmber, "Falling behind", last + " Entries have waited " + humanDuration(st.Unarchived) + " for a checkpoint (stale after " + humanDuration(st.StaleAfter) + ")."}
	default:
		checkpoint = statusLine{stateGood, "Up to date", last}
	}
	return verify, checkpoint
}

type expiringCert struct {
	certs.SeenCertificate
	Tag, Left string
}

// expiringCerts are the certificates seen that expire within the warning
// window (or have expired), soonest first: red within a week, amber
// before.
func expiringCerts(list []certs.SeenCertificate, warnDays []int, now time.Time) []expiringCert {
	window := 30
	if len(warnDays) > 0 {
		window = slices.Max(warnDays)
	}
	var out []expiringCert
	for _, sc := range list {
		days := int(sc.NotAfter.Sub(now).Hours() / 24)
		if days > window {
			continue
		}
		sc.DaysLeft = days
		e := expiringCert{SeenCertificate: sc, Tag: stateAmber}
		switch {
		case !sc.NotAfter.After(now):
			e.Tag, e.Left = stateRed, "expired"
		case days < 1:
			e.Tag, e.Left = stateRed, "less than a day left"
		case days == 1:
			e.Left = "1 day left"
		default:
			e.Left = humanDays(days) + " left"
		}
		if days <= 7 {
			e.Tag = stateRed
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b expiringCert) int { return a.NotAfter.Compare(b.NotAfter) })
	return out
}

func humanDays(d int) string {
	if d == 1 {
		return "1 day"
	}
	return strconv.Itoa(d) + " days"
}

// homeStatus adds to the home page what the person's roles need of the
// gateway's health: certificates expiring for administrators and DPOs,
// the audit record's state for DPOs and auditors.
func (c *Console) homeStatus(r *http.Request, s *session, data map[string]any) error {
	ctx, now := r.Context(), c.now()
	if (slices.Contains(s.Roles, agreements.RoleAdmin) || slices.Contains(s.Roles, agreements.RoleDPO)) && c.opts.Certificates != nil {
		list, err := c.opts.Certificates.List(ctx, now)
		if err != nil {
			return err
		}
		data["ShowCertificates"] = true
		data["Expiring"] = expiringCerts(list, c.opts.CertWarnDays, now)
		window := 30
		if len(c.opts.CertWarnDays) > 0 {
			window = slices.Max(c.opts.CertWarnDays)
		}
		data["CertWindow"] = window
	}
	if (slices.Contains(s.Roles, agreements.RoleDPO) || slices.Contains(s.Roles, agreements.RoleAuditor)) && c.opts.Status != nil {
		st, err := c.opts.Status.Audit(ctx)
		if err != nil {
			return err
		}
		verify, checkpoint := auditLines(st, now, c.funcs()["london"].(func(time.Time) string))
		data["Verify"], data["Checkpoint"] = verify, checkpoint
	}
	return nil
}
