package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
	"github.com/gatehouse-gw/gatehouse/store"
)

// publicError is an error's text for a person: the domain's own
// client-safe messages, never a wrapped cause.
func publicError(err error) string {
	for _, known := range []error{agreements.ErrForbidden, agreements.ErrSamePerson, agreements.ErrNotFound, agreements.ErrExists,
		agreements.ErrSameProposer, agreements.ErrChangeState, agreements.ErrDigestMismatch, agreements.ErrNeedsApproval} {
		if errors.Is(err, known) {
			return strings.ToUpper(known.Error()[:1]) + known.Error()[1:] + "."
		}
	}
	if ve, ok := valid.As(err); ok {
		parts := make([]string, 0, len(ve))
		for _, p := range ve {
			parts = append(parts, p.String())
		}
		return strings.Join(parts, "; ")
	}
	return "It could not be done. Try again; if it goes on, tell the gateway's operator."
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch {
	case errors.Is(err, agreements.ErrNotFound):
		c.render(w, r, http.StatusNotFound, "error", s, page{Title: "Page not found", Message: "There is nothing at this address. Check it, or go back to the list."})
	case errors.Is(err, agreements.ErrForbidden):
		c.forbidden(w, r, s, "Your role does not allow this.")
	default:
		c.opts.Log.Error("console: request failed", "path", r.URL.Path, "err", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", s, page{Title: "Sorry, there is a problem", Message: publicError(err)})
	}
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, s *session, why string) {
	c.render(w, r, http.StatusForbidden, "error", s, page{Title: "You cannot do this", Message: why})
}

type overrideView struct {
	*compliance.Override
	Overdue  bool
	TimeLeft string
}

func (c *Console) overrideViews(r *http.Request, state string) ([]overrideView, error) {
	os, err := c.opts.Records.Overrides(r.Context())
	if err != nil {
		return nil, err
	}
	now := c.now()
	var out []overrideView
	for _, o := range os {
		if state != "" && o.State != state {
			continue
		}
		v := overrideView{Override: o, Overdue: o.State == compliance.OverrideAwaiting && now.After(o.ReviewBy)}
		if o.State == compliance.OverrideAwaiting {
			v.TimeLeft = timeLeft(o.ReviewBy.Sub(now))
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ReviewBy.Before(out[j].ReviewBy) })
	return out, nil
}

func timeLeft(d time.Duration) string {
	if d <= 0 {
		return "overdue by " + humanDuration(-d)
	}
	return humanDuration(d) + " left"
}

func humanDuration(d time.Duration) string {
	h := int(d.Hours())
	switch {
	case h >= 48:
		return fmt.Sprintf("%d days", h/24)
	case h >= 1:
		return fmt.Sprintf("%d hours", h)
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}

// home shows what needs the person, by role.
func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, actor := r.Context(), s.actor()
	data := map[string]any{}
	list, err := c.opts.Registry.List(ctx, actor)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var awaiting, mine, dueReview []*agreements.Agreement
	today := agreements.NewDate(c.now())
	for _, a := range list {
		vs, err := c.opts.Registry.Versions(ctx, actor, a.ID)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		for _, v := range vs {
			if v.Status != agreements.StatusDraft {
				continue
			}
			if v.Author == s.Subject {
				mine = append(mine, v)
			} else {
				awaiting = append(awaiting, v)
			}
		}
		if (a.Status == agreements.StatusActive || a.Status == agreements.StatusSuspended) && !a.ReviewBy.IsZero() && a.ReviewBy.Before(today.AddDays(31)) {
			dueReview = append(dueReview, a)
		}
	}
	data["Awaiting"], data["Mine"], data["DueReview"] = awaiting, mine, dueReview
	if slices.Contains(s.Roles, agreements.RoleAdmin) || slices.Contains(s.Roles, agreements.RoleDPO) {
		changes, err := c.opts.Registry.PartyChanges(ctx, actor, "")
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		var toApprove, proposed []*agreements.PartyChange
		for _, ch := range changes {
			switch {
			case ch.Status != agreements.ChangeProposed:
			case agreements.SamePerson(ch.ProposedBy, s.Subject):
				proposed = append(proposed, ch)
			default:
				toApprove = append(toApprove, ch)
			}
		}
		data["ChangesToApprove"], data["ChangesProposed"] = toApprove, proposed
		parties, err := c.opts.Registry.Parties(ctx, actor)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		var regToApprove, regMine []*agreements.Party
		for _, p := range parties {
			switch {
			case p.Status != agreements.PartyPending:
			case agreements.SamePerson(p.RegisteredBy, s.Subject):
				regMine = append(regMine, p)
			default:
				regToApprove = append(regToApprove, p)
			}
		}
		data["RegistrationsToApprove"], data["RegistrationsMine"] = regToApprove, regMine
	}
	if slices.Contains(s.Roles, agreements.RoleDPO) || slices.Contains(s.Roles, agreements.RoleAuditor) {
		ovs, err := c.overrideViews(r, compliance.OverrideAwaiting)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Overrides"] = ovs
		notes, err := c.opts.Records.Notifications(ctx, exchange.NotifyDue)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["NotificationsDue"] = len(notes)
	}
	if err := c.homeStatus(r, s, data); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "home", s, page{Title: "What needs you", Nav: "home", Data: data})
}

func (c *Console) overridesPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !slices.Contains(s.Roles, agreements.RoleDPO) && !slices.Contains(s.Roles, agreements.RoleAuditor) {
		c.forbidden(w, r, s, "Emergency overrides are reviewed by the DPO and read by auditors.")
		return
	}
	ovs, err := c.overrideViews(r, "")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	msg := ""
	if r.URL.Query().Get("done") == "reviewed" {
		msg = "Review recorded."
	}
	c.render(w, r, http.StatusOK, "overrides", s, page{Title: "Emergency overrides", Nav: "overrides", Data: ovs, Done: msg})
}

func (c *Console) reviewOverride(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	rev := &api.OverrideReview{Outcome: r.PostFormValue("outcome"), Notes: strings.TrimSpace(r.PostFormValue("notes"))}
	var errs []fieldError
	if rev.Outcome != compliance.OutcomeJustified && rev.Outcome != compliance.OutcomeNotJustified {
		errs = append(errs, fieldError{"outcome-" + id, "Select whether the override was justified"})
	}
	if rev.Notes == "" {
		errs = append(errs, fieldError{"notes-" + id, "Enter your notes: what you checked and why you decided so"})
	}
	status := http.StatusUnprocessableEntity
	if len(errs) == 0 {
		_, err := c.opts.Compliance.ReviewOverride(r.Context(), s.actor(), id, rev)
		if err == nil {
			http.Redirect(w, r, Prefix+"/overrides?done=reviewed", http.StatusSeeOther)
			return
		}
		if errors.Is(err, agreements.ErrForbidden) {
			status = http.StatusForbidden
		}
		if ve, ok := valid.As(err); ok {
			for _, p := range ve {
				field := "notes-" + id
				if p.Path == "outcome" {
					field = "outcome-" + id
				}
				errs = append(errs, fieldError{field, p.Message})
			}
		} else {
			errs = append(errs, fieldError{"notes-" + id, publicError(err)})
		}
	}
	ovs, err := c.overrideViews(r, "")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, status, "overrides", s, page{Title: "Emergency overrides", Nav: "overrides", Data: ovs, Errors: errs})
}

type exportKind struct {
	Kind, Title, Description string
}

var exportKinds = []exportKind{
	{compliance.KindDisclosures, "Disclosure register", "Every disclosure in a period, with the ICO annex fields."},
	{compliance.KindOverrides, "Emergency overrides", "Overrides and their review."},
	{compliance.KindNotifications, "Notifications due", "Data subjects to be told, and withheld notifications to review."},
	{compliance.KindAgreements, "Agreements due for review", "Agreements whose review, DPIA or expiry falls due."},
	{compliance.KindRectifications, "Rectification notices", "Art 19 notices and their acknowledgements."},
	{compliance.KindReleases, "Releases", "Exchanges a DPO released while their agreement or recipient held them back."},
}

func (c *Console) exportsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, http.StatusOK, "exports", s, page{Title: "Exports", Nav: "exports", Data: c.exportsData(subjectAccessForm{})})
}

// A made export is kept a short while (in State, so that any node serves
// it) so that its file and its signature can be downloaded as a pair (an
// export made again would be another export, signed anew).
const (
	// madeTTL is how long a made export can be downloaded.
	madeTTL = 15 * time.Minute
	// madeMax bounds the size of a kept export; a larger one is made with
	// the admin API or gatehouse export.
	madeMax = 16 << 20
	// madePerPerson and madeInAll bound how many are kept; the oldest go
	// first.
	madePerPerson, madeInAll = 8, 64
)

// printable is a kept export's printable page, made when the export is:
// one of the two. It is sealed with the session key, so that the
// database does not hold in the clear whom a subject access report is
// about (as the DPO entered it).
type printable struct {
	Report        *report              `json:"report,omitempty"`
	SubjectAccess *subjectAccessReport `json:"subject_access,omitempty"`
}

// keep keeps a made export for its maker; about names the person a
// subject access export is about, for its printable page.
func (c *Console) keep(ctx context.Context, s *session, exp *compliance.Export, name, about string) (string, error) {
	var p printable
	if exp.Table.Kind == compliance.KindSubjectAccess {
		sa := subjectAccessOf(exp.Table, about, c)
		p.SubjectAccess = &sa
	} else {
		rep := reportOf(exp.Table, c)
		p.Report = &rep
	}
	id := randomToken()
	sealed, err := c.box.seal("export:"+id, p)
	if err != nil {
		return "", err
	}
	now := c.now()
	return id, c.opts.State.PutConsoleExport(ctx, store.ConsoleExport{ID: id, Owner: s.Subject, Name: name, Format: exp.Format,
		Body: exp.Body, Signature: exp.Signature, Report: []byte(sealed), Created: now, Expires: now.Add(madeTTL)}, madePerPerson, madeInAll)
}

// download makes an export (format csv or json) and shows the page from
// which its file, its detached signature and a printable page are taken.
func (c *Console) download(w http.ResponseWriter, r *http.Request, s *session) {
	kind, q := r.PathValue("kind"), r.URL.Query()
	if !slices.ContainsFunc(exportKinds, func(k exportKind) bool { return k.Kind == kind }) {
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	format := q.Get("format")
	if format != compliance.FormatCSV && format != compliance.FormatJSON {
		format = compliance.FormatCSV
	}
	req := compliance.ExportRequest{Kind: kind, Format: format, Filter: q.Get("filter")}
	if kind == compliance.KindDisclosures {
		from, err1 := time.ParseInLocation(time.DateOnly, q.Get("from"), c.loc)
		to, err2 := time.ParseInLocation(time.DateOnly, q.Get("to"), c.loc)
		if err1 != nil || err2 != nil || to.Before(from) {
			c.render(w, r, http.StatusUnprocessableEntity, "exports", s, page{Title: "Exports", Nav: "exports",
				Errors: []fieldError{{"from", "Enter the first and last day of the period, the last not before the first"}},
				Data:   c.exportsAgain(q.Get("from"), q.Get("to"))})
			return
		}
		req.From, req.To = from, to.AddDate(0, 0, 1)
	}
	exp, err := c.opts.Compliance.Export(r.Context(), s.actor(), req)
	if err != nil {
		if ve, ok := valid.As(err); ok {
			c.render(w, r, http.StatusUnprocessableEntity, "exports", s, page{Title: "Exports", Nav: "exports",
				Errors: []fieldError{{"from", publicError(ve)}}, Data: c.exportsAgain(q.Get("from"), q.Get("to"))})
			return
		}
		c.fail(w, r, s, err)
		return
	}
	name := fmt.Sprintf("%s-%s.%s", kind, exp.Table.GeneratedAt.In(c.loc).Format("2006-01-02-150405"), format)
	if len(exp.Body)+len(exp.Signature) > madeMax {
		c.render(w, r, http.StatusRequestEntityTooLarge, "error", s, page{Title: "This export is too large for the console",
			Message: fmt.Sprintf("It has %d rows. Make it for a shorter period, or with gatehouse export or the admin API.", len(exp.Table.Rows))})
		return
	}
	id, err := c.keep(r.Context(), s, exp, name, "")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "export", s, page{Title: exp.Table.Title + " is ready", Nav: "exports",
		Data: map[string]any{"ID": id, "Name": name, "Rows": len(exp.Table.Rows), "Report": reportOf(exp.Table, c), "TTL": int(madeTTL.Minutes())}})
}

// madeFile sends a made export's file, its signature (part sig) or its
// printable page (part print).
func (c *Console) madeFile(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var m *store.ConsoleExport
	if len(id) <= 64 {
		var err error
		if m, err = c.opts.State.ConsoleExport(r.Context(), id); err != nil && !errors.Is(err, store.ErrNoConsoleRecord) {
			c.fail(w, r, s, err)
			return
		}
	}
	if m == nil || m.Owner != s.Subject || c.now().After(m.Expires) {
		c.render(w, r, http.StatusNotFound, "error", s, page{Title: "This export has gone",
			Message: fmt.Sprintf("Exports can be downloaded for %d minutes after they are made, by the person who made them. Make it again from the exports page.", int(madeTTL.Minutes()))})
		return
	}
	switch r.PathValue("part") {
	case "file":
		ct := "text/csv; charset=utf-8"
		if m.Format == compliance.FormatJSON {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, m.Name))
		w.Header().Set("Gatehouse-Signature", m.Signature)
		_, _ = w.Write(m.Body)
	case "sig":
		w.Header().Set("Content-Type", "application/jose; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.sig"`, m.Name))
		_, _ = w.Write([]byte(m.Signature))
	case "print":
		var p printable
		if err := c.box.open("export:"+m.ID, string(m.Report), &p); err != nil || (p.Report == nil) == (p.SubjectAccess == nil) {
			c.fail(w, r, s, fmt.Errorf("console: kept export %s: its printable page does not open", m.Name))
			return
		}
		if p.SubjectAccess != nil {
			c.render(w, r, http.StatusOK, "subjectaccess", s, page{Title: "Subject access report", Nav: "exports", Data: *p.SubjectAccess})
			return
		}
		c.render(w, r, http.StatusOK, "report", s, page{Title: p.Report.Table.Title, Nav: "exports", Data: *p.Report})
	default:
		c.fail(w, r, s, agreements.ErrNotFound)
	}
}

type report struct {
	Table     *compliance.Table
	Generated string
	Rows      [][]string
}

func reportOf(t *compliance.Table, c *Console) report {
	rep := report{Table: t, Generated: c.funcs()["london"].(func(time.Time) string)(t.GeneratedAt)}
	for _, row := range t.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			switch x := v.(type) {
			case time.Time:
				if !x.IsZero() {
					cells[i] = x.In(c.loc).Format("2 Jan 2006 15:04")
				}
			case []string:
				cells[i] = strings.Join(x, ", ")
			default:
				cells[i] = fmt.Sprint(x)
			}
		}
		rep.Rows = append(rep.Rows, cells)
	}
	return rep
}
