package config

import (
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// alertRoles are the roles alerts go to.
var alertRoles = []string{"admin", "dpo", "auditor", "operator"}

func (c *Config) validateAlerts(v *valid.Errors) {
	a := &c.Alerts
	if a.ConsoleURL != "" {
		if u, err := url.Parse(a.ConsoleURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.Add("alerts.console_url", "format", "%q is not an http(s) URL", a.ConsoleURL)
		}
	}
	if a.Poll < 10*time.Millisecond || a.Poll > time.Hour {
		v.Add("alerts.poll", "range", "must be between 10ms and 1h")
	}
	if a.RetryMin < 10*time.Millisecond {
		v.Add("alerts.retry_min", "minimum", "must be at least 10ms")
	}
	if a.RetryMax < a.RetryMin {
		v.Add("alerts.retry_max", "minimum", "must be at least alerts.retry_min")
	}
	if a.MaxAttempts < 1 || a.MaxAttempts > 100 {
		v.Add("alerts.max_attempts", "range", "must be between 1 and 100")
	}
	if a.Lease < time.Second {
		v.Add("alerts.lease", "minimum", "must be at least 1s")
	}
	if a.DueWithin < time.Hour {
		v.Add("alerts.due_within", "minimum", "must be at least 1h")
	}
	if a.VerifyEvery < time.Second {
		v.Add("alerts.verify_every", "minimum", "must be at least 1s")
	}
	if a.DigestAt != "off" {
		if _, err := time.Parse("15:04", a.DigestAt); err != nil {
			v.Add("alerts.digest_at", "format", "%q is not HH:MM or off", a.DigestAt)
		}
	}
	e := &a.Email
	if e.SMTP != "" {
		host, _, err := net.SplitHostPort(e.SMTP)
		if err != nil {
			v.Add("alerts.email.smtp", "format", "%q is not host:port", e.SMTP)
		}
		switch e.TLS {
		case "starttls", "implicit":
		case "none":
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				v.Add("alerts.email.tls", "loopback", "none is only for a mail server on a loopback address: use starttls or implicit")
			}
		default:
			v.Add("alerts.email.tls", "enum", "%q is not one of starttls, implicit, none", e.TLS)
		}
		if e.CAFile != "" {
			requireFile(v, "alerts.email.ca_file", e.CAFile)
		}
		if e.PasswordFile != "" {
			requireFile(v, "alerts.email.password_file", e.PasswordFile)
			v.Required("alerts.email.username", e.Username)
		}
		if v.Required("alerts.email.from", e.From) {
			if _, err := mail.ParseAddress(e.From); err != nil {
				v.Add("alerts.email.from", "format", "%q is not an e-mail address", e.From)
			}
		}
	}
	for role, boxes := range e.Roles {
		if !slices.Contains(alertRoles, role) {
			v.Add("alerts.email.roles."+role, "enum", "%q is not one of %s", role, strings.Join(alertRoles, ", "))
		}
		mailboxes(v, "alerts.email.roles."+role, boxes)
	}
	for party, boxes := range e.Parties {
		mailboxes(v, "alerts.email.parties."+party, boxes)
	}
	names := map[string]bool{}
	for i, w := range a.Webhooks {
		p := valid.Path("alerts.webhooks", i)
		if v.Required(p+".name", w.Name) {
			if names[w.Name] {
				v.Add(p+".name", "unique", "%q names another webhook too", w.Name)
			}
			names[w.Name] = true
		}
		if v.Required(p+".url", w.URL) {
			if u, err := url.Parse(w.URL); err != nil || u.Scheme != "https" || u.Host == "" {
				v.Add(p+".url", "https", "%q is not an https URL", w.URL)
			}
		}
		switch {
		case w.Party == "" && w.Role == "":
			v.Add(p+".party", "required", "set party or role")
		case w.Party != "" && w.Role != "":
			v.Add(p+".role", "exclusive", "set party or role, not both")
		case w.Role != "" && !slices.Contains(alertRoles, w.Role):
			v.Add(p+".role", "enum", "%q is not one of %s", w.Role, strings.Join(alertRoles, ", "))
		}
		requireFile(v, p+".secret_file", w.SecretFile)
		if w.CAFile != "" {
			requireFile(v, p+".ca_file", w.CAFile)
		}
	}
}

func mailboxes(v *valid.Errors, path string, boxes []string) {
	for i, b := range boxes {
		if _, err := mail.ParseAddress(b); err != nil {
			v.Add(valid.Path(path, i), "format", "%q is not an e-mail address", b)
		}
	}
}
