package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// subjectTypes are the identifier types a subject access request is
// usually made under; the export takes any type.
var subjectTypes = []struct{ Code, Name string }{
	{"nino", "National Insurance number"},
	{"council-ref", "Council reference"},
	{"uprn", "Property reference (UPRN)"},
	{"name-dob", "Name and date of birth"},
	{"name", "Name"},
}

func subjectTypeName(code string) string {
	for _, t := range subjectTypes {
		if t.Code == code {
			return t.Name
		}
	}
	return code
}

// maxSubjectValue bounds the identifier a person types.
const maxSubjectValue = 200

// subjectAccessForm is what the exports page's subject access form holds.
type subjectAccessForm struct {
	Type, Value, Format string
}

func (c *Console) exportsData(sa subjectAccessForm) map[string]any {
	today := c.now().In(c.loc)
	if sa.Format == "" {
		sa.Format = compliance.FormatCSV
	}
	return map[string]any{"Kinds": exportKinds, "From": today.AddDate(0, -1, 0).Format(time.DateOnly), "To": today.Format(time.DateOnly),
		"SubjectTypes": subjectTypes, "SubjectAccess": sa}
}

// exportsAgain is the exports page's data for a period entered again.
func (c *Console) exportsAgain(from, to string) map[string]any {
	d := c.exportsData(subjectAccessForm{})
	d["From"], d["To"] = from, to
	return d
}

// makeSubjectAccess makes the subject access export for one person (the
// DPO's alone). It is a POST, so that the identifier is in no address,
// browser history or access log.
func (c *Console) makeSubjectAccess(w http.ResponseWriter, r *http.Request, s *session) {
	if !slices.Contains(s.Roles, agreements.RoleDPO) {
		c.forbidden(w, r, s, "Subject access reports are made by the DPO.")
		return
	}
	sa := subjectAccessForm{Type: strings.TrimSpace(r.PostFormValue("subject-type")), Value: strings.TrimSpace(r.PostFormValue("subject-value")),
		Format: r.PostFormValue("format")}
	var errs []fieldError
	if !slices.ContainsFunc(subjectTypes, func(t struct{ Code, Name string }) bool { return t.Code == sa.Type }) {
		errs = append(errs, fieldError{"subject-type", "Select the kind of identifier"})
	}
	switch {
	case sa.Value == "":
		errs = append(errs, fieldError{"subject-value", "Enter the person's identifier"})
	case len(sa.Value) > maxSubjectValue:
		errs = append(errs, fieldError{"subject-value", fmt.Sprintf("The identifier must be %d characters or fewer", maxSubjectValue)})
	}
	if sa.Format != compliance.FormatCSV && sa.Format != compliance.FormatJSON {
		errs = append(errs, fieldError{"subject-format", "Select CSV or JSON"})
	}
	if len(errs) == 0 {
		exp, err := c.opts.Compliance.Export(r.Context(), s.actor(), compliance.ExportRequest{
			Kind: compliance.KindSubjectAccess, Format: sa.Format, Subject: &api.Subject{Type: sa.Type, Value: sa.Value},
		})
		if err == nil {
			name := fmt.Sprintf("%s-%s.%s", compliance.KindSubjectAccess, exp.Table.GeneratedAt.In(c.loc).Format("2006-01-02-150405"), sa.Format)
			if len(exp.Body)+len(exp.Signature) > madeMax {
				c.render(w, r, http.StatusRequestEntityTooLarge, "error", s, page{Title: "This export is too large for the console",
					Message: fmt.Sprintf("It has %d rows. Make it with gatehouse export or the admin API.", len(exp.Table.Rows))})
				return
			}
			id, err := c.keep(r.Context(), s, exp, name, subjectTypeName(sa.Type)+": "+sa.Value)
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			c.render(w, r, http.StatusOK, "export", s, page{Title: exp.Table.Title + " is ready", Nav: "exports",
				Data: map[string]any{"ID": id, "Name": name, "Rows": len(exp.Table.Rows), "TTL": int(madeTTL.Minutes())}})
			return
		}
		ve, ok := valid.As(err)
		if !ok {
			c.fail(w, r, s, err)
			return
		}
		for _, p := range ve {
			errs = append(errs, fieldError{"subject-value", p.Message})
		}
	}
	c.render(w, r, http.StatusUnprocessableEntity, "exports", s, page{Title: "Exports", Nav: "exports", Errors: errs, Data: c.exportsData(sa)})
}

// disclosure is one row of a subject access export, for a person to read.
type disclosure struct {
	When                                      string
	Exchange, Discloser, Recipient, Agreement string
	Purpose, PurposeCode, Basis, BasisCode    string
	Categories                                []string
	Exemption, State                          string
	Withheld, ReviewOverdue                   bool
	WithheldReason, ReviewAt                  string
	Rectifications                            []string
}

type subjectAccessReport struct {
	Table        *compliance.Table
	Generated    string
	About        string
	Disclosures  []disclosure
	Recipients   []string
	WithheldRows int
}

// subjectAccessOf reads a subject access table by its column names.
func subjectAccessOf(t *compliance.Table, about string, c *Console) subjectAccessReport {
	london := c.funcs()["london"].(func(time.Time) string)
	rep := subjectAccessReport{Table: t, Generated: london(t.GeneratedAt), About: about}
	col := map[string]int{}
	for i, cl := range t.Columns {
		col[cl.Name] = i
	}
	str := func(row []any, name string) string {
		i, ok := col[name]
		if !ok || i >= len(row) || row[i] == nil {
			return ""
		}
		switch v := row[i].(type) {
		case string:
			return v
		case time.Time:
			return london(v)
		case bool:
			if v {
				return "yes"
			}
			return ""
		case []string:
			return strings.Join(v, ", ")
		}
		return fmt.Sprint(row[i])
	}
	list := func(row []any, name string) []string {
		if i, ok := col[name]; ok && i < len(row) {
			if v, ok := row[i].([]string); ok {
				return v
			}
		}
		return nil
	}
	for _, row := range t.Rows {
		d := disclosure{
			When: str(row, "disclosed_at"), Exchange: str(row, "exchange"), Discloser: str(row, "discloser"),
			Recipient: str(row, "recipient_name"), Agreement: str(row, "agreement"),
			PurposeCode: str(row, "purpose"), BasisCode: str(row, "lawful_basis"), Exemption: str(row, "exemption"),
			State: str(row, "state"), Withheld: str(row, "withheld") == "yes", WithheldReason: str(row, "withheld_reason"),
			ReviewAt: str(row, "exemption_review_at"), ReviewOverdue: str(row, "exemption_review_overdue") == "yes",
			Rectifications: list(row, "rectifications"),
		}
		if d.Recipient == "" {
			d.Recipient = str(row, "recipient")
		} else if id := str(row, "recipient"); id != "" {
			d.Recipient += " (" + id + ")"
		}
		d.Purpose, d.Basis = agreements.Purposes[d.PurposeCode], agreements.Article6[d.BasisCode]
		for _, code := range list(row, "categories") {
			d.Categories = append(d.Categories, categoryWords(code))
		}
		if d.Withheld {
			rep.WithheldRows++
		}
		if !slices.Contains(rep.Recipients, d.Recipient) {
			rep.Recipients = append(rep.Recipients, d.Recipient)
		}
		rep.Disclosures = append(rep.Disclosures, d)
	}
	return rep
}

// categoryWords is a data category as a person reads it: its words, and
// whether the law treats it as special (Art 9) or criminal offence data.
func categoryWords(code string) string {
	words := strings.ReplaceAll(code, "-", " ")
	switch agreements.Categories[code] {
	case agreements.CategorySpecial:
		return words + " (special category data)"
	case agreements.CategoryCriminalOffence:
		return "criminal offence data"
	}
	return words
}
