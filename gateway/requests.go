package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
)

// POST /v1/requests: ask the council for information; decided at once,
// then routed to the agreement's handler service.
// dryRunRequest is POST /v1/requests/decisions: would this request be
// allowed? Every check POST /v1/requests runs; nothing is stored.
func (s *Server) dryRunRequest(c *fiber.Ctx) error {
	var q api.InformationRequest
	if err := s.readJSON(c, &q); err != nil {
		return err
	}
	dec, err := s.partner.Exchanges.CheckRequest(c.UserContext(), caller(c).ID, &q)
	if err != nil {
		return err
	}
	return c.JSON(decisionView(&dec))
}

func (s *Server) submitRequest(c *fiber.Ctx) error {
	var q api.InformationRequest
	if err := s.readJSON(c, &q); err != nil {
		return err
	}
	p := caller(c)
	if wait, ok := s.limits.allow(p.ID, q.Agreement); !ok {
		return rateLimited(p.ID, "agreement "+q.Agreement, wait)
	}
	r, err := s.partner.Exchanges.SubmitRequest(c.UserContext(), p.ID, &q, c.Get(idem.Header))
	if err != nil {
		return err
	}
	if r.Replayed {
		c.Set(idem.ReplayedHeader, "true")
	}
	c.Location("/v1/requests/" + r.ID)
	return c.Status(http.StatusCreated).JSON(requestView(r, s.now()))
}

// GET /v1/requests/{id}: the requester follows it; the handler reads it.
func (s *Server) getRequest(c *fiber.Ctx) error {
	r, err := s.partner.Exchanges.GetRequest(c.UserContext(), caller(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(requestView(r, s.now()))
}

// GET /v1/requests?role=sent|received&state=…: requests the caller made or handles.
func (s *Server) listRequests(c *fiber.Ctx) error {
	role := c.Query("role", "sent")
	if role != "sent" && role != "received" {
		return fieldProblem("role", "enum", fmt.Sprintf("%q is not one of sent, received", role))
	}
	limit := c.QueryInt("limit", 100)
	if limit < 1 || limit > 500 {
		return fieldProblem("limit", "range", "must be between 1 and 500")
	}
	var states []exchange.RequestState
	if st := c.Query("state"); st != "" {
		for _, v := range strings.Split(st, ",") {
			state := exchange.RequestState(strings.TrimSpace(v))
			switch state {
			case exchange.RequestOpen, exchange.RequestAccepted, exchange.RequestDeclined, exchange.RequestAnswered:
			default:
				return fieldProblem("state", "enum", fmt.Sprintf("%q is not one of open, accepted, declined, answered", v))
			}
			states = append(states, state)
		}
	}
	list, err := s.partner.Exchanges.Requests(c.UserContext(), caller(c).ID, role == "received", states, c.Query("after"), limit)
	if err != nil {
		return err
	}
	out := api.RequestList{Requests: make([]api.Request, len(list))}
	for i, r := range list {
		out.Requests[i] = requestView(r, s.now())
	}
	if len(list) == limit {
		out.Next = list[len(list)-1].ID
	}
	return c.JSON(out)
}

// POST /v1/requests/{id}/accept and /decline: the handler answers.
func (s *Server) respondRequest(accept bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var b api.Reason
		if len(c.Request().Header.ContentType()) > 0 || !accept {
			if err := s.readJSON(c, &b); err != nil {
				return err
			}
		}
		r, err := s.partner.Exchanges.RespondRequest(c.UserContext(), caller(c).ID, c.Params("id"), accept, b.Reason)
		if err != nil {
			return err
		}
		return c.JSON(requestView(r, s.now()))
	}
}
