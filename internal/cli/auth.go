package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	tokens2 "github.com/gophercloud/gophercloud/v2/openstack/identity/v2/tokens"
	tokens3 "github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/spf13/cobra"
)

// call is one running command: its options, arguments and, once logged
// in, its clients.
type call struct {
	env  *Env
	o    *opts
	args []string
	name string
	cmd  *cobra.Command

	pc *gophercloud.ProviderClient
	sc *gophercloud.ServiceClient
}

// credentials returns the login options: from clouds.yaml when a cloud is
// named (--os-cloud or OS_CLOUD), otherwise from OS_* variables.
func credentials(o *opts, env *Env) (gophercloud.AuthOptions, gophercloud.EndpointOpts, error) {
	cloud := o.cloud
	if cloud == "" {
		cloud = env.Getenv("OS_CLOUD")
	}
	if cloud != "" {
		popts := []clouds.ParseOption{clouds.WithCloudName(cloud)}
		if len(env.CloudsFiles) > 0 {
			popts = append(popts, clouds.WithLocations(env.CloudsFiles...))
		}
		if r := env.Getenv("OS_REGION_NAME"); r != "" {
			popts = append(popts, clouds.WithRegion(r))
		}
		ao, eo, _, err := clouds.Parse(popts...)
		if err != nil {
			return ao, eo, fmt.Errorf("cli: clouds.yaml: %w", err)
		}
		return ao, eo, nil
	}
	return envCredentials(env.Getenv)
}

// envCredentials reads the OS_* variables the OpenStack CLI reads.
func envCredentials(getenv func(string) string) (gophercloud.AuthOptions, gophercloud.EndpointOpts, error) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	ao := gophercloud.AuthOptions{
		IdentityEndpoint: getenv("OS_AUTH_URL"),
		Username:         getenv("OS_USERNAME"),
		UserID:           getenv("OS_USER_ID"),
		Password:         getenv("OS_PASSWORD"),
		TokenID:          getenv("OS_TOKEN"),
		TenantName:       first("OS_PROJECT_NAME", "OS_TENANT_NAME"),
		TenantID:         first("OS_PROJECT_ID", "OS_TENANT_ID"),
		DomainName:       first("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
		DomainID:         first("OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"),
	}
	eo := gophercloud.EndpointOpts{Region: getenv("OS_REGION_NAME")}
	switch strings.TrimSuffix(strings.ToLower(getenv("OS_INTERFACE")), "url") {
	case "internal":
		eo.Availability = gophercloud.AvailabilityInternal
	case "admin":
		eo.Availability = gophercloud.AvailabilityAdmin
	}
	if ao.IdentityEndpoint == "" {
		return ao, eo, fmt.Errorf("cli: no credentials: set OS_AUTH_URL and friends (source hoard-data/admin-openrc) or use --os-cloud")
	}
	// A project in another domain than the user needs an explicit scope.
	pdName, pdID := getenv("OS_PROJECT_DOMAIN_NAME"), getenv("OS_PROJECT_DOMAIN_ID")
	if ao.TenantName != "" && ao.TenantID == "" && (pdName != "" || pdID != "") &&
		!strings.EqualFold(pdName, ao.DomainName) && (pdID == "" || pdID != ao.DomainID) {
		ao.Scope = &gophercloud.AuthScope{ProjectName: ao.TenantName, DomainName: pdName, DomainID: pdID}
		if pdName != "" {
			ao.Scope.DomainID = ""
		}
	}
	if ao.DomainName == "" && ao.DomainID == "" && ao.UserID == "" && ao.TokenID == "" {
		// keystoneauth's default, so that a bare openrc works.
		ao.DomainID = first("OS_PROJECT_DOMAIN_ID")
		if ao.DomainID == "" {
			ao.DomainName = first("OS_PROJECT_DOMAIN_NAME")
		}
		if ao.DomainID == "" && ao.DomainName == "" {
			ao.DomainID = "default"
		}
	}
	return ao, eo, nil
}

// login authenticates and finds the database endpoint in the catalog.
func (c *call) login(ctx context.Context) error {
	if c.sc != nil {
		return nil
	}
	ao, eo, err := credentials(c.o, c.env)
	if err != nil {
		return err
	}
	if ao.Password == "" && ao.TokenID == "" && (ao.Username != "" || ao.UserID != "") {
		// As the OpenStack CLI: ask on the terminal for what the
		// environment leaves out.
		who := ao.Username
		if who == "" {
			who = ao.UserID
		}
		pw, ok, err := c.env.ReadSecret("Password for " + who + " at " + ao.IdentityEndpoint + ": ")
		if err != nil {
			return err
		}
		if ok {
			ao.Password = pw
		}
	}
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return fmt.Errorf("cli: auth URL: %w", err)
	}
	tc, err := tlsConfig(c.o, c.env) // tls.go
	if err != nil {
		return err
	}
	pc.HTTPClient = httpClient(c.env, tc)
	pc.UserAgent.Prepend("hoard-cli")
	if err := openstack.Authenticate(ctx, pc, ao); err != nil {
		return fmt.Errorf("cli: login at %s: %w", ao.IdentityEndpoint, err)
	}
	sc, err := openstack.NewDBV1(pc, eo)
	if err != nil {
		return fmt.Errorf("cli: database endpoint: %w", err)
	}
	c.pc, c.sc = pc, sc
	return nil
}

// project returns the id and name of the project the token is scoped to.
func (c *call) project() (id, name string) {
	switch r := c.pc.GetAuthResult().(type) {
	case tokens3.CreateResult:
		if p, err := r.ExtractProject(); err == nil && p != nil {
			return p.ID, p.Name
		}
	case tokens2.CreateResult:
		if t, err := r.ExtractToken(); err == nil && t != nil {
			return t.Tenant.ID, t.Tenant.Name
		}
	}
	return "", ""
}

func init() {
	register("login", &command{
		usage: "[--os-cloud NAME]",
		help:  "check the credentials; print the user's project and the database endpoint",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, name := c.project()
			v := loginView{ProjectID: id, Project: name, Endpoint: c.sc.Endpoint}
			return c.print(v, cols("PROJECT=project", "PROJECT ID=project_id", "DATABASE ENDPOINT=endpoint"),
				[][]string{{v.Project, v.ProjectID, v.Endpoint}})
		},
	})
}

type loginView struct {
	Project   string `json:"project"`
	ProjectID string `json:"project_id"`
	Endpoint  string `json:"endpoint"`
}
