package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// doneMessages are the confirmations an agreement's page shows after an
// action (the redirect names one; nothing of the URL is shown).
var doneMessages = map[string]string{
	"saved":      "Draft version %d saved. A DPO who is not you must approve it.",
	"approved":   "Version %d approved. An administrator can now put it in force.",
	"activated":  "Version %d is now in force.",
	"suspended":  "Agreement suspended: sharing under it stops from the next request.",
	"resumed":    "Agreement resumed.",
	"terminated": "Agreement terminated.",
}

func (c *Console) agreementsPage(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := c.opts.Registry.List(r.Context(), s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	c.render(w, r, http.StatusOK, "agreements", s, page{Title: "Agreements", Nav: "agreements", Data: list})
}

type versionView struct {
	*agreements.Agreement
	Digest string
}

func (c *Console) versions(r *http.Request, s *session, id string) ([]versionView, error) {
	vs, err := c.opts.Registry.Versions(r.Context(), s.actor(), id)
	if err != nil {
		return nil, err
	}
	out := make([]versionView, len(vs))
	for i, v := range vs {
		out[i] = versionView{v, agreements.Digest(v)}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out, nil
}

func (c *Console) agreementPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	vs, err := c.versions(r, s, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if len(vs) == 0 {
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	done := ""
	if m, ok := doneMessages[r.URL.Query().Get("done")]; ok {
		v, _ := strconv.Atoi(r.URL.Query().Get("v"))
		done = m
		if strings.Contains(m, "%d") {
			done = fmt.Sprintf(m, v)
		}
	}
	c.agreementView(w, r, s, http.StatusOK, vs, nil, done)
}

func (c *Console) agreementView(w http.ResponseWriter, r *http.Request, s *session, status int, vs []versionView, errs []fieldError, done string) {
	inForce := 0
	for _, v := range vs {
		if v.Status == agreements.StatusActive || v.Status == agreements.StatusSuspended {
			inForce = v.Version
			break
		}
	}
	c.render(w, r, status, "agreement", s, page{Title: vs[0].Title, Nav: "agreements", Errors: errs, Done: done,
		Data: map[string]any{"Versions": vs, "Latest": vs[0], "InForce": inForce}})
}

func (c *Console) versionYAML(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := c.version(r, s, r.PathValue("id"), strings.TrimSuffix(r.PathValue("version"), ".yaml"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	doc, err := agreements.Document(a)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-v%d.yaml"`, a.ID, a.Version))
	_, _ = w.Write(doc)
}

func (c *Console) version(r *http.Request, s *session, id, version string) (*agreements.Agreement, error) {
	n, err := strconv.Atoi(version)
	if err != nil || n < 0 {
		return nil, agreements.ErrNotFound
	}
	vs, err := c.opts.Registry.Versions(r.Context(), s.actor(), id)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.Version == n {
			return v, nil
		}
	}
	return nil, agreements.ErrNotFound
}

type diffLine struct {
	Kind string // same, added, removed
	Text string
}

// diffPage shows two versions' documents line by line (from=0: nothing,
// so a first version reads as wholly added).
func (c *Console) diffPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	vs, err := c.versions(r, s, id)
	if err != nil || len(vs) == 0 {
		c.fail(w, r, s, errors.Join(err, agreements.ErrNotFound))
		return
	}
	pick := func(q string) (*versionView, bool) {
		n, err := strconv.Atoi(r.URL.Query().Get(q))
		if err != nil {
			return nil, false
		}
		for i := range vs {
			if vs[i].Version == n {
				return &vs[i], true
			}
		}
		return nil, n == 0
	}
	to, ok := pick("to")
	if !ok || to == nil {
		to = &vs[0]
	}
	from, ok := pick("from")
	if !ok {
		from = nil
		for i := range vs {
			if vs[i].Version < to.Version && (vs[i].Status == agreements.StatusActive || vs[i].Status == agreements.StatusSuspended || vs[i].Status == agreements.StatusSuperseded) {
				from = &vs[i]
				break
			}
		}
	}
	var a, b []byte
	if from != nil {
		a, _ = agreements.Document(from.Agreement)
	}
	b, _ = agreements.Document(to.Agreement)
	c.render(w, r, http.StatusOK, "diff", s, page{Title: fmt.Sprintf("Changes in %s version %d", id, to.Version), Nav: "agreements",
		Data: map[string]any{"ID": id, "From": from, "To": to, "Lines": diffLines(lines(a), lines(b)), "Versions": vs}})
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// diffLines is a line diff by longest common subsequence (documents are a
// few hundred lines at most).
func diffLines(a, b []string) []diffLine {
	n, m := len(a), len(b)
	if n*m > 4_000_000 {
		out := make([]diffLine, 0, n+m)
		for _, l := range a {
			out = append(out, diffLine{"removed", l})
		}
		for _, l := range b {
			out = append(out, diffLine{"added", l})
		}
		return out
	}
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, diffLine{"same", a[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, diffLine{"removed", a[i]})
			i++
		default:
			out = append(out, diffLine{"added", b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, diffLine{"removed", a[i]})
	}
	for ; j < m; j++ {
		out = append(out, diffLine{"added", b[j]})
	}
	return out
}

// draftForm is the draft form: one or more flows (added and removed with
// the form's own buttons, so that it works without JavaScript); a fuller
// agreement is uploaded as YAML.
type draftForm struct {
	ID, Title, Controllers                      string
	FromSignatory, FromRole                     string
	ToSignatory, ToRole                         string
	Flows                                       []flowForm
	DPIARef, DPIACompleted, DPIAOutcome, DPIABy string
	EffectiveFrom, ReviewBy, Retention, YAML    string
	Parties                                     []*agreements.Party
	PurposeCodes, BasisCodes, CategoryCodes     []option
	DPIAOutcomes                                []string
	Upload                                      bool
	Instrument, APD                             string
	MaxFlows                                    int
}

// flowForm is one flow of the draft form. The first flow's fields have the
// plain ids (from, purpose, …); the others' start flow-N- (N from 2).
type flowForm struct {
	P                            string // the fields' id prefix
	N                            int    // the flow's number, from 1
	From, To, Purpose, Basis     string
	Categories                   []string
	Special, Criminal, Exemption string
}

// maxDraftFlows bounds the flows the form holds; more go in YAML.
const maxDraftFlows = 10

func flowPrefix(i int) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprintf("flow-%d-", i+1)
}

// flowsOf reads the form's flows: n of them (the form says how many).
func flowsOf(r *http.Request, n int) []flowForm {
	n = min(max(n, 1), maxDraftFlows)
	out := make([]flowForm, n)
	for i := range out {
		p := flowPrefix(i)
		pf := func(k string) string { return strings.TrimSpace(r.PostFormValue(p + k)) }
		out[i] = flowForm{P: p, N: i + 1, From: pf("from"), To: pf("to"), Purpose: pf("purpose"), Basis: pf("basis"),
			Categories: r.PostForm[p+"categories"], Special: pf("special"), Criminal: pf("criminal"), Exemption: pf("exemption")}
	}
	return out
}

// renumber gives each flow the ids of its place, after one is removed.
func renumber(flows []flowForm) []flowForm {
	for i := range flows {
		flows[i].P, flows[i].N = flowPrefix(i), i+1
	}
	return flows
}

type option struct {
	Code, Name string
}

func options(m map[string]string) []option {
	out := make([]option, 0, len(m))
	for k, v := range m {
		out = append(out, option{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

func (c *Console) formChoices(r *http.Request, s *session, f *draftForm) {
	f.Parties, _ = c.opts.Registry.Parties(r.Context(), s.actor())
	sort.Slice(f.Parties, func(i, j int) bool { return f.Parties[i].Name < f.Parties[j].Name })
	f.PurposeCodes, f.BasisCodes = options(agreements.Purposes), options(agreements.Article6)
	cats := map[string]string{}
	for k, v := range agreements.Categories {
		cats[k] = v
	}
	f.CategoryCodes = options(cats)
	f.DPIAOutcomes = []string{agreements.DPIAApproved, agreements.DPIAApprovedWithMitigations, agreements.DPIARejected}
	f.MaxFlows = maxDraftFlows
	if len(f.Flows) == 0 {
		f.Flows = renumber([]flowForm{{}})
	}
}

func (c *Console) newAgreementPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !slices.Contains(s.Roles, agreements.RoleAdmin) {
		c.forbidden(w, r, s, "Only an information governance administrator writes agreements.")
		return
	}
	f := &draftForm{Controllers: "separate", DPIAOutcome: agreements.DPIAApproved, Retention: "90d"}
	c.formChoices(r, s, f)
	c.render(w, r, http.StatusOK, "draft", s, page{Title: "Write a draft agreement", Nav: "agreements", Data: f})
}

// fieldOf maps a validation path to the form field that holds it.
var pathFields = []struct {
	re    *regexp.Regexp
	field string
}{
	{regexp.MustCompile(`^signatories\[0\]\.name`), "from-signatory"},
	{regexp.MustCompile(`^signatories\[0\]\.role`), "from-role"},
	{regexp.MustCompile(`^signatories\[1\]\.name`), "to-signatory"},
	{regexp.MustCompile(`^signatories\[1\]\.role`), "to-role"},
	{regexp.MustCompile(`^dpia\.reference`), "dpia-ref"},
	{regexp.MustCompile(`^dpia\.completed`), "dpia-completed"},
	{regexp.MustCompile(`^dpia\.outcome`), "dpia-outcome"},
	{regexp.MustCompile(`^dpia\.approver`), "dpia-by"},
	{regexp.MustCompile(`^appropriate_policy_document`), "apd"},
	{regexp.MustCompile(`^(id|title|controllers|effective_from|review_by|retention)$`), ""},
}

// flowFields maps a flow's validation paths to its fields.
var (
	flowPath   = regexp.MustCompile(`^flows\[(\d+)\]\.([a-z_]+)`)
	flowFields = map[string]string{"from": "from", "to": "to", "purposes": "purpose", "lawful_bases": "basis",
		"data_categories": "categories", "special_category": "special", "criminal_offence": "criminal", "exemptions": "exemption"}
)

func fieldOf(path string, upload bool) string {
	if upload {
		return "yaml"
	}
	if m := flowPath.FindStringSubmatch(path); m != nil {
		i, err := strconv.Atoi(m[1])
		if field, ok := flowFields[m[2]]; ok && err == nil && i < maxDraftFlows {
			return flowPrefix(i) + field
		}
		return "yaml"
	}
	for _, p := range pathFields {
		if p.re.MatchString(path) {
			if p.field == "" {
				return strings.ReplaceAll(path, "_", "-")
			}
			return p.field
		}
	}
	return "yaml"
}

func (c *Console) createAgreement(w http.ResponseWriter, r *http.Request, s *session) {
	if !slices.Contains(s.Roles, agreements.RoleAdmin) {
		c.forbidden(w, r, s, "Only an information governance administrator writes agreements.")
		return
	}
	f := &draftForm{}
	pf := r.PostFormValue
	var doc *agreements.Agreement
	var errs []fieldError
	upload := pf("yaml") != "" || r.MultipartForm != nil && len(r.MultipartForm.File["yaml-file"]) > 0
	if upload {
		f.Upload = true
		text := []byte(pf("yaml"))
		if r.MultipartForm != nil && len(r.MultipartForm.File["yaml-file"]) > 0 {
			fh := r.MultipartForm.File["yaml-file"][0]
			file, err := fh.Open()
			if err == nil {
				text, err = io.ReadAll(io.LimitReader(file, 1<<20))
				file.Close()
			}
			if err != nil {
				errs = append(errs, fieldError{"yaml", "The file could not be read."})
			}
		}
		f.YAML = string(text)
		var err error
		if doc, err = agreements.DecodeYAML(text); err != nil && len(errs) == 0 {
			errs = append(errs, fieldError{"yaml", "The document is not a valid agreement: " + publicError(err)})
		}
	} else {
		n, _ := strconv.Atoi(pf("flow-count"))
		f = &draftForm{ID: strings.TrimSpace(pf("id")), Title: strings.TrimSpace(pf("title")), Controllers: pf("controllers"),
			FromSignatory: strings.TrimSpace(pf("from-signatory")), FromRole: strings.TrimSpace(pf("from-role")),
			ToSignatory: strings.TrimSpace(pf("to-signatory")), ToRole: strings.TrimSpace(pf("to-role")),
			Flows:   flowsOf(r, n),
			DPIARef: strings.TrimSpace(pf("dpia-ref")), DPIACompleted: pf("dpia-completed"), DPIAOutcome: pf("dpia-outcome"), DPIABy: strings.TrimSpace(pf("dpia-by")),
			EffectiveFrom: pf("effective-from"), ReviewBy: pf("review-by"), Retention: strings.TrimSpace(pf("retention")),
			APD: strings.TrimSpace(pf("apd"))}
		// Adding or removing a flow shows the form again, nothing saved.
		switch action := pf("action"); {
		case action == "add-flow":
			if len(f.Flows) < maxDraftFlows {
				f.Flows = renumber(append(f.Flows, flowForm{}))
			}
			c.formChoices(r, s, f)
			c.render(w, r, http.StatusOK, "draft", s, page{Title: "Write a draft agreement", Nav: "agreements", Data: f,
				Done: fmt.Sprintf("Flow %d added: fill it in below.", len(f.Flows))})
			return
		case strings.HasPrefix(action, "remove-flow-"):
			i, err := strconv.Atoi(strings.TrimPrefix(action, "remove-flow-"))
			if err == nil && i >= 2 && i <= len(f.Flows) {
				f.Flows = renumber(slices.Delete(f.Flows, i-1, i))
			}
			c.formChoices(r, s, f)
			c.render(w, r, http.StatusOK, "draft", s, page{Title: "Write a draft agreement", Nav: "agreements", Data: f,
				Done: fmt.Sprintf("Flow %d removed.", i)})
			return
		}
		doc, errs = f.agreement()
	}
	if doc != nil && len(errs) == 0 {
		a, err := c.opts.Registry.Register(r.Context(), s.actor(), doc, "")
		if err == nil {
			http.Redirect(w, r, fmt.Sprintf("%s/agreements/%s?done=saved&v=%d", Prefix, a.ID, a.Version), http.StatusSeeOther)
			return
		}
		if ve, ok := valid.As(err); ok {
			for _, p := range ve {
				errs = append(errs, fieldError{fieldOf(p.Path, upload), p.Path + ": " + p.Message})
			}
		} else if errors.Is(err, agreements.ErrForbidden) {
			c.forbidden(w, r, s, "Your role does not allow this.")
			return
		} else {
			errs = append(errs, fieldError{"yaml", publicError(err)})
			if !upload {
				errs[len(errs)-1].Field = "id"
			}
		}
	}
	c.formChoices(r, s, f)
	c.render(w, r, http.StatusUnprocessableEntity, "draft", s, page{Title: "Write a draft agreement", Nav: "agreements", Errors: errs, Data: f})
}

// agreement builds the one-flow document; fields that do not parse are
// errors at their field.
func (f *draftForm) agreement() (*agreements.Agreement, []fieldError) {
	var errs []fieldError
	date := func(field, v string) agreements.Date {
		if v == "" {
			return agreements.Date{}
		}
		d, err := agreements.ParseDate(v)
		if err != nil {
			errs = append(errs, fieldError{field, "Enter a real date"})
		}
		return d
	}
	a := &agreements.Agreement{ID: f.ID, Title: f.Title, Controllers: f.Controllers, AppropriatePolicyDocument: f.APD,
		EffectiveFrom: date("effective-from", f.EffectiveFrom), ReviewBy: date("review-by", f.ReviewBy),
		SubjectNotification: agreements.Notification{Default: "notify"}}
	first := flowForm{}
	if len(f.Flows) > 0 {
		first = f.Flows[0]
	}
	// The signatories sign for the first flow's parties.
	if f.FromSignatory != "" || f.FromRole != "" {
		a.Signatories = append(a.Signatories, agreements.Signatory{Party: first.From, Name: f.FromSignatory, Role: f.FromRole})
	}
	if f.ToSignatory != "" || f.ToRole != "" {
		a.Signatories = append(a.Signatories, agreements.Signatory{Party: first.To, Name: f.ToSignatory, Role: f.ToRole})
	}
	for _, ff := range f.Flows {
		flow := agreements.Flow{DataCategories: ff.Categories}
		if ff.From != "" {
			flow.From = []string{ff.From}
		}
		if ff.To != "" {
			flow.To = []string{ff.To}
		}
		if ff.Purpose != "" {
			flow.Purposes = []string{ff.Purpose}
		}
		if ff.Basis != "" {
			flow.LawfulBases = []string{ff.Basis}
		}
		if ff.Special != "" {
			flow.SpecialCategory = splitCodes(ff.Special)
		}
		if ff.Criminal != "" {
			flow.CriminalOffence = splitCodes(ff.Criminal)
		}
		if ff.Exemption != "" {
			flow.Exemptions = []string{ff.Exemption}
		}
		a.Flows = append(a.Flows, flow)
	}
	if f.DPIARef != "" || f.DPIACompleted != "" || f.DPIABy != "" {
		a.DPIA = &agreements.DPIA{Reference: f.DPIARef, Completed: date("dpia-completed", f.DPIACompleted), Outcome: f.DPIAOutcome, Approver: f.DPIABy}
	}
	if f.Retention != "" {
		d, err := agreements.ParseDuration(f.Retention)
		if err != nil {
			errs = append(errs, fieldError{"retention", "Enter a period such as 90d or 12w"})
		}
		a.Retention = d
	}
	return a, errs
}

func splitCodes(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// agreementAction approves, activates, suspends, resumes or terminates.
func (c *Console) agreementAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	ctx, actor := r.Context(), s.actor()
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	var errs []fieldError
	var err error
	var done string
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	switch action {
	case "approve":
		// Bound to the digest the DPO was shown; the registry refuses
		// (and records) one that is not the version's.
		_, err = c.opts.Registry.Approve(ctx, actor, id, version, r.PostFormValue("digest"))
		done = "approved"
	case "activate":
		_, err = c.opts.Registry.Activate(ctx, actor, id, version, r.PostFormValue("digest"))
		done = "activated"
	case "suspend", "resume", "terminate":
		if reason == "" {
			errs = append(errs, fieldError{action + "-reason", "Enter the reason, for the audit record"})
			break
		}
		if len(reason) > 500 {
			errs = append(errs, fieldError{action + "-reason", "The reason must be 500 characters or fewer"})
			break
		}
		switch action {
		case "suspend":
			_, err = c.opts.Registry.Suspend(ctx, actor, id, reason)
			done = "suspended"
		case "resume":
			_, err = c.opts.Registry.Resume(ctx, actor, id, reason)
			done = "resumed"
		default:
			_, err = c.opts.Registry.Terminate(ctx, actor, id, reason)
			done = "terminated"
		}
	default:
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	if err != nil {
		field := action + "-reason"
		if action == "approve" || action == "activate" {
			field = action + "-" + strconv.Itoa(version)
		}
		switch {
		case errors.Is(err, agreements.ErrForbidden), errors.Is(err, agreements.ErrSamePerson):
			errs = append(errs, fieldError{field, publicError(err)})
		case errors.Is(err, agreements.ErrAgreementDigest):
			errs = append(errs, fieldError{field, "This version is not the one you were shown; read it again before you " + action + " it."})
		default:
			if ve, ok := valid.As(err); ok {
				for _, p := range ve {
					errs = append(errs, fieldError{field, p.Path + ": " + p.Message})
				}
			} else if errors.Is(err, agreements.ErrNotFound) {
				c.fail(w, r, s, err)
				return
			} else {
				errs = append(errs, fieldError{field, publicError(err)})
			}
		}
	}
	if len(errs) > 0 {
		vs, verr := c.versions(r, s, id)
		if verr != nil || len(vs) == 0 {
			c.fail(w, r, s, errors.Join(verr, agreements.ErrNotFound))
			return
		}
		status := http.StatusUnprocessableEntity
		if errors.Is(err, agreements.ErrForbidden) || errors.Is(err, agreements.ErrSamePerson) {
			status = http.StatusForbidden
		}
		c.agreementView(w, r, s, status, vs, errs, "")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/agreements/%s?done=%s&v=%d", Prefix, id, done, version), http.StatusSeeOther)
}
