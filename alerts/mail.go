package alerts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// MailConfig is the SMTP server alerts go through.
type MailConfig struct {
	// Addr is host:port.
	Addr string
	// TLS is starttls, implicit or none.
	TLS      string
	CAFile   string
	Username string
	Password string
	From     string
	// Issuer names the gateway in messages.
	Issuer string
}

// Mailer sends alerts by e-mail. A message says what happened, which ids
// it concerns, what needs doing and by when, with a link to the console
// page: never a subject identifier or payload content (events hold none).
type Mailer struct {
	cfg  MailConfig
	opts []mail.Option
	host string
	// Link returns the console page for an event ("" for none).
	Link func(Event) string
}

// NewMailer checks the configuration and returns a mailer.
func NewMailer(cfg MailConfig) (*Mailer, error) {
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("smtp port %q: %w", portText, err)
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", cfg.CAFile)
		}
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(20 * time.Second), mail.WithTLSConfig(tc)}
	switch cfg.TLS {
	case "implicit":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	return &Mailer{cfg: cfg, opts: opts, host: host}, nil
}

// Send mails the event to the delivery's mailbox.
func (m *Mailer) Send(ctx context.Context, d *Delivery) error {
	link := ""
	if m.Link != nil {
		link = m.Link(d.Event)
	}
	subject, body := Message(d.Event, link, m.cfg.Issuer)
	msg := mail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return &PermanentError{Err: err}
	}
	if err := msg.To(d.Target); err != nil {
		return &PermanentError{Err: err}
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(fmt.Sprintf("%s.%d@%s", d.Event.ID, d.ID, "gatehouse.alerts"))
	msg.SetGenHeader("X-Gatehouse-Event", d.Event.ID)
	msg.SetGenHeader("X-Gatehouse-Event-Type", d.Event.Type)
	msg.SetBodyString(mail.TypeTextPlain, body)
	c, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return &PermanentError{Err: err}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", m.cfg.Addr, err)
	}
	return nil
}

// titles says in a few words what each event is.
var titles = map[string]string{
	ExchangeDelivered:    "A disclosure was delivered to you",
	RequestReceived:      "An information request awaits your answer",
	RequestAnswered:      "Your information request was answered",
	RequestDeclined:      "Your information request was declined",
	RectificationNotice:  "Data you received was corrected (rectification notice)",
	AgreementSuspended:   "An agreement was suspended",
	AgreementResumed:     "An agreement was resumed",
	AgreementTerminated:  "An agreement was terminated",
	CertificateExpiring:  "A party certificate expires soon",
	OverrideMade:         "Emergency override: DPO review needed",
	OverrideReviewDue:    "Emergency override review due within 24 hours",
	OverrideOverdue:      "Emergency override review is overdue",
	DraftAwaitingApprove: "A draft agreement awaits approval",
	PartyChangeAwaiting:  "A change to a party's key or trust awaits approval",
	AgreementReviewDue:   "An agreement's review is due",
	AgreementLapsed:      "An agreement's review has lapsed: sharing paused",
	DPIADue:              "A DPIA falls due for review",
	DPIALapsed:           "A DPIA has lapsed: sharing paused",
	NotificationDue:      "Telling the data subjects falls due",
	RequestDeadlineNear:  "An information request's deadline is near",
	RequestDeadlinePast:  "An information request's deadline has passed",
	AuditBroken:          "The audit record does not verify",
	CheckpointStale:      "The audit record's checkpoints are stale",
	Digest:               "Daily digest: what is due",
	Test:                 "Test alert",
}

// dueLabels name the kinds of thing a digest lists.
var dueLabels = map[string]string{
	DueOverride:     "Emergency override",
	DueNotification: "Telling the subjects of exchange",
	DueConfirmation: "Confirming the withheld notification of exchange",
	DueRequest:      "Information request",
	DueReview:       "Review of agreement",
	DueDPIA:         "DPIA of agreement",
}

// Title says in a few words what an event is.
func Title(typ string) string {
	if t, ok := titles[typ]; ok {
		return t
	}
	return typ
}

var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

// When writes a time for people: Europe/London, with the UTC time beside it.
func When(t time.Time) string {
	return t.In(london).Format("Mon 2 Jan 2006 15:04 MST") + " (" + t.UTC().Format(time.RFC3339) + ")"
}

// Message is the subject and plain-text body of an event's e-mail.
func Message(ev Event, link, issuer string) (subject, body string) {
	subject = "[" + issuer + "] " + Title(ev.Type)
	if !ev.Data.Deadline.IsZero() {
		subject += " by " + ev.Data.Deadline.In(london).Format("2 Jan 15:04")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s.\n\n", Title(ev.Type))
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-14s %s\n", k+":", v)
		}
	}
	line("Event", ev.ID)
	line("When", When(ev.Time))
	line("Exchange", ev.Data.Exchange)
	line("Request", ev.Data.Request)
	line("Agreement", ev.Data.Agreement)
	line("Party", ev.Data.Party)
	line("Rectification", ev.Data.Rectification)
	line("Certificate", ev.Data.Serial)
	line("Urgency", ev.Data.Urgency)
	if ev.Data.Override {
		line("Override", "yes: an emergency override, to be reviewed by the DPO")
	}
	if !ev.Data.Deadline.IsZero() {
		line("Deadline", When(ev.Data.Deadline))
	}
	if ev.Data.Action != "" {
		fmt.Fprintf(&b, "\nWhat needs doing: %s.\n", ev.Data.Action)
	}
	if len(ev.Data.Items) > 0 {
		b.WriteString("\nDue:\n")
		for _, it := range ev.Data.Items {
			fmt.Fprintf(&b, "- %s %s: %s", dueLabels[it.Type], it.ID, it.Action)
			if !it.Deadline.IsZero() {
				fmt.Fprintf(&b, ", by %s", When(it.Deadline))
			}
			b.WriteString("\n")
		}
	}
	if link != "" {
		fmt.Fprintf(&b, "\nOpen it in the console: %s\n", link)
	}
	b.WriteString("\nThis message holds no personal data: sign in to the console to see the record.\n")
	return subject, b.String()
}

// ConsoleLink returns the console page of each people's event under base
// (none for partner events: partners use the API).
func ConsoleLink(base string) func(Event) string {
	base = strings.TrimRight(base, "/")
	return func(ev Event) string {
		if base == "" || ev.Party != "" {
			return ""
		}
		d := ev.Data
		// Only pages the console has: an override's card on the overrides
		// page, an agreement's page, the notifications page, a party's
		// page; anything else
		// is on the home page, which lists what needs doing by role.
		switch {
		case d.Override && d.Exchange != "":
			return base + "/overrides#override-" + url.PathEscape(d.Exchange)
		case d.Agreement != "" && strings.HasPrefix(ev.Type, "agreement."):
			id, _, _ := strings.Cut(d.Agreement, "@")
			return base + "/agreements/" + url.PathEscape(id)
		case strings.HasPrefix(ev.Type, "notification."):
			return base + "/notifications"
		case strings.HasPrefix(ev.Type, "party.") && d.Party != "":
			return base + "/parties/" + url.PathEscape(d.Party)
		}
		return base + "/"
	}
}
