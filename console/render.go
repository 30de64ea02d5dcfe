package console

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// page is what every template gets: the page's title and data, the signed-in
// person (if any) and their CSRF token.
type page struct {
	Title   string
	Nav     string
	Message string
	// Done confirms what was just done.
	Done  string
	Retry bool
	// Errors are field errors: the summary links each to its field.
	Errors []fieldError
	Data   any

	Session *session
	CSRF    string
}

type fieldError struct {
	Field   string // the input's id
	Message string
}

// ErrorFor returns the message for a field, if any.
func (p page) ErrorFor(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// Has reports whether the signed-in person holds role.
func (p page) Has(role string) bool {
	return p.Session != nil && slices.Contains(p.Session.Roles, role)
}

func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templatesFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templatesFS, n); err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, p page) {
	p.Session = s
	if s != nil {
		p.CSRF = s.CSRF
	}
	if len(p.Errors) > 0 && !strings.HasPrefix(p.Title, "Error: ") {
		p.Title = "Error: " + p.Title
	}
	var b bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		c.opts.Log.Error("console: rendering", "page", name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		// london shows a time in Europe/London, as people in the council read it.
		"london": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(c.loc).Format("2 January 2006, 3:04pm MST")
		},
		"date": func(d agreements.Date) string {
			if d.IsZero() {
				return ""
			}
			return d.Start().Format("2 January 2006")
		},
		"purpose":  func(code string) string { return agreements.Purposes[code] },
		"basis":    func(code string) string { return agreements.Article6[code] },
		"category": func(code string) string { return agreements.Categories[code] },
		"join":     strings.Join,
		"list":     func(s ...string) []string { return s },
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"has":    func(list []string, s string) bool { return slices.Contains(list, s) },
		"prefix": func() string { return Prefix },
		"statusTag": func(s agreements.Status) string {
			switch s {
			case agreements.StatusActive:
				return "govuk-tag--green"
			case agreements.StatusDraft:
				return "govuk-tag--grey"
			case agreements.StatusApproved:
				return "govuk-tag--blue"
			case agreements.StatusSuspended:
				return "govuk-tag--orange"
			case agreements.StatusTerminated, agreements.StatusExpired:
				return "govuk-tag--red"
			}
			return "govuk-tag--grey"
		},
	}
}
