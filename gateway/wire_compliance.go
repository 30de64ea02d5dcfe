package gateway

import (
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// The compliance record's documents: domain → wire.

func overrideView(o *compliance.Override) api.Override {
	return api.Override{
		ExchangeID: o.ExchangeID, ReviewBy: o.ReviewBy, State: o.State, Outcome: o.Outcome, Notes: o.Notes,
		Reviewer: o.Reviewer, ReviewedAt: o.ReviewedAt, CreatedAt: o.CreatedAt,
	}
}

func notificationView(n *compliance.Notification) api.NotificationRecord {
	return api.NotificationRecord{
		ExchangeID: n.ExchangeID, State: n.State, Reason: n.Reason, ReviewAt: n.ReviewAt,
		UpdatedBy: n.UpdatedBy, UpdatedAt: n.UpdatedAt,
		ConfirmBy: n.ConfirmBy, ConfirmedBy: n.ConfirmedBy, ConfirmedAt: n.ConfirmedAt,
	}
}

func rectificationView(r *compliance.Rectification) api.Rectification {
	return api.Rectification{
		ID: r.ID, SubjectKey: r.SubjectKey, Action: r.Action, Description: r.Description,
		RecordedBy: r.RecordedBy, CreatedAt: r.CreatedAt,
		Notices: mapSlice(r.Notices, func(n *compliance.Notice) api.RectificationNotice {
			return api.RectificationNotice{
				ID: n.ID, RectificationID: n.RectificationID, Recipient: n.Recipient, Exchanges: n.Exchanges,
				SentAt: n.SentAt, AcknowledgedAt: n.AcknowledgedAt, Action: n.Action, Description: n.Description,
			}
		}),
	}
}

// noticeView is a notice as its recipient sees it (GET /v1/notices).
func noticeView(n *compliance.Notice) api.Notice {
	return api.Notice{ID: n.ID, Action: n.Action, Description: n.Description, Exchanges: n.Exchanges, SentAt: n.SentAt, AcknowledgedAt: n.AcknowledgedAt}
}

func consentView(c *exchange.Consent) api.Consent {
	return api.Consent{
		ID: c.ID, Party: c.Party, ConsentRef: c.ConsentRef, SubjectKey: c.SubjectKey, Purposes: c.Purposes,
		GivenAt: c.GivenAt, WithdrawnAt: c.WithdrawnAt, WithdrawnBy: c.WithdrawnBy, RecordedBy: c.RecordedBy, RecordedAt: c.RecordedAt,
	}
}
