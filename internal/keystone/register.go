package keystone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Catalog names of hoard's service: the type clients look for (OSC,
// troveclient and gophercloud ask for "database") and Trove's name, as
// the built-in identity's catalog has them.
const (
	ServiceType = "database"
	ServiceName = "trove"
)

// Interfaces are the endpoint interfaces registered, as Trove's install
// guide registers them.
var Interfaces = []string{"public", "internal", "admin"}

// EndpointURL is the catalog URL of hoard's API at publicURL: Keystone
// puts the token's project id in place of %(tenant_id)s.
func EndpointURL(publicURL string) string { return publicURL + "/v1.0/%(tenant_id)s" }

// Register makes Keystone's catalog list hoard's database service with an
// endpoint per interface at EndpointURL(publicURL) in region: it creates
// what is missing (the region too) and corrects an endpoint whose URL
// differs, so running it at every start is harmless. The service user
// needs the admin role.
func (c *Client) Register(ctx context.Context, publicURL, region string) error {
	svcID, err := c.ensureService(ctx)
	if err != nil {
		return err
	}
	if err := c.ensureRegion(ctx, region); err != nil {
		return err
	}
	var eps struct {
		Endpoints []struct {
			ID        string `json:"id"`
			Interface string `json:"interface"`
			RegionID  string `json:"region_id"`
			URL       string `json:"url"`
		} `json:"endpoints"`
	}
	if err := c.json(ctx, http.MethodGet, "/v3/endpoints?service_id="+url.QueryEscape(svcID), nil, http.StatusOK, &eps); err != nil {
		return err
	}
	want := EndpointURL(publicURL)
	for _, iface := range Interfaces {
		found := false
		for _, e := range eps.Endpoints {
			if e.Interface != iface || e.RegionID != region {
				continue
			}
			found = true
			if e.URL != want {
				body := map[string]any{"endpoint": map[string]any{"url": want}}
				if err := c.json(ctx, http.MethodPatch, "/v3/endpoints/"+url.PathEscape(e.ID), body, http.StatusOK, nil); err != nil {
					return err
				}
				c.log.Info("corrected hoard's endpoint in Keystone's catalog", "interface", iface, "region", region, "url", want)
			}
		}
		if found {
			continue
		}
		body := map[string]any{"endpoint": map[string]any{
			"service_id": svcID, "interface": iface, "region_id": region, "url": want, "enabled": true,
		}}
		if err := c.json(ctx, http.MethodPost, "/v3/endpoints", body, http.StatusCreated, nil); err != nil {
			return err
		}
		c.log.Info("registered hoard's endpoint in Keystone's catalog", "interface", iface, "region", region, "url", want)
	}
	return nil
}

// ensureService returns the id of the catalog's database service, created
// if there is none.
func (c *Client) ensureService(ctx context.Context) (string, error) {
	var list struct {
		Services []struct {
			ID string `json:"id"`
		} `json:"services"`
	}
	if err := c.json(ctx, http.MethodGet, "/v3/services?type="+ServiceType, nil, http.StatusOK, &list); err != nil {
		return "", err
	}
	if len(list.Services) > 0 {
		return list.Services[0].ID, nil
	}
	var created struct {
		Service struct {
			ID string `json:"id"`
		} `json:"service"`
	}
	body := map[string]any{"service": map[string]any{
		"type": ServiceType, "name": ServiceName, "description": "Database service (hoard)", "enabled": true,
	}}
	if err := c.json(ctx, http.MethodPost, "/v3/services", body, http.StatusCreated, &created); err != nil {
		return "", err
	}
	if created.Service.ID == "" {
		return "", fmt.Errorf("keystone: POST /v3/services: no service id in the answer")
	}
	c.log.Info("registered the database service in Keystone's catalog", "id", created.Service.ID)
	return created.Service.ID, nil
}

// ensureRegion creates region if Keystone does not know it.
func (c *Client) ensureRegion(ctx context.Context, region string) error {
	path := "/v3/regions/" + url.PathEscape(region)
	status, b, err := c.call(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	switch status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		body := map[string]any{"region": map[string]any{"id": region}}
		return c.json(ctx, http.MethodPost, "/v3/regions", body, http.StatusCreated, nil)
	}
	return &statusError{method: http.MethodGet, path: path, status: status, msg: keystoneMessage(b)}
}

// json makes a service-token request with an optional JSON body and
// decodes the answer into out (if not nil) when its status is want.
func (c *Client) json(ctx context.Context, method, path string, in any, want int, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	status, b, err := c.call(ctx, method, path, nil, body)
	if err != nil {
		return err
	}
	if status != want {
		return &statusError{method: method, path: path, status: status, msg: keystoneMessage(b)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("keystone: %s %s: %w", method, path, err)
	}
	return nil
}
