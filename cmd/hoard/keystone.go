package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"

	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/keystone"
)

// keystoneFlags adds the flags of an existing Keystone to fs.
func keystoneFlags(fs *flag.FlagSet, c *serveConfig,
	str func(p *string, name, def, help string), dur func(p *time.Duration, name string, def time.Duration, help string)) {
	str(&c.KeystoneURL, "keystone-url", "", "an existing Keystone (e.g. http://keystone:5000/v3) instead of the built-in identity: hoard then validates tokens there and serves no /identity/")
	str(&c.KeystoneCloud, "keystone-cloud", "", "a clouds.yaml entry (searched as the OpenStack CLI does) giving the Keystone URL and hoard's service credentials; the --keystone-* flags override it")
	str(&c.KeystoneServiceUser, "keystone-service-user", "", "hoard's service user in Keystone (needs the service or admin role; admin to register the endpoint)")
	str(&c.KeystoneServicePassword, "keystone-service-password", "", "its password (prefer the environment variable: command lines are visible to every user)")
	str(&c.KeystoneServiceProject, "keystone-service-project", "", "its project (default service)")
	str(&c.KeystoneServiceDomain, "keystone-service-domain", "", "the domain name of the service user and project (default Default)")
	dur(&c.KeystoneCacheTTL, "keystone-cache-ttl", identity.DefaultValidationCacheTTL, "how long a token validated by Keystone is reused, and so how long a revoked token may still work")
	fs.BoolVar(&c.KeystoneRegisterEndpoint, "keystone-register-endpoint", false,
		fmt.Sprintf("register the database service and its endpoints (at --public-url, in --region) in Keystone's catalog at start (env %s)", envName("keystone-register-endpoint")))
}

// validateKeystone resolves the Keystone configuration (c.keystone) when
// one is asked for, from the flags over a clouds.yaml entry.
func (c *serveConfig) validateKeystone() []error {
	if c.KeystoneURL == "" && c.KeystoneCloud == "" {
		if c.KeystoneServiceUser != "" || c.KeystoneServicePassword != "" || c.KeystoneServiceProject != "" || c.KeystoneRegisterEndpoint {
			return []error{errors.New("--keystone-service-* and --keystone-register-endpoint need --keystone-url or --keystone-cloud")}
		}
		return nil
	}
	if c.KeystoneCacheTTL < 0 {
		return []error{errors.New("--keystone-cache-ttl must not be negative")}
	}
	kc := keystone.Config{CacheTTL: c.KeystoneCacheTTL}
	if c.KeystoneCacheTTL == 0 {
		kc.CacheTTL = -1 // 0 on the command line: no cache
	}
	if c.KeystoneCloud != "" {
		ao, _, tlsConf, err := clouds.Parse(clouds.WithCloudName(c.KeystoneCloud))
		if err != nil {
			return []error{fmt.Errorf("--keystone-cloud %q: %w", c.KeystoneCloud, err)}
		}
		kc.URL, kc.ServiceUser, kc.ServicePassword = ao.IdentityEndpoint, ao.Username, ao.Password
		kc.ServiceUserDomain, kc.ServiceUserDomainID = ao.DomainName, ao.DomainID
		if ao.Scope != nil {
			kc.ServiceProject = ao.Scope.ProjectName
			kc.ServiceProjectDomain, kc.ServiceProjectDomainID = ao.Scope.DomainName, ao.Scope.DomainID
		}
		if tlsConf != nil {
			kc.HTTPClient = &http.Client{Timeout: keystone.DefaultTimeout, Transport: &http.Transport{TLSClientConfig: tlsConf}}
		}
	}
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&kc.URL, c.KeystoneURL)
	override(&kc.ServiceUser, c.KeystoneServiceUser)
	override(&kc.ServicePassword, c.KeystoneServicePassword)
	override(&kc.ServiceProject, c.KeystoneServiceProject)
	if c.KeystoneServiceDomain != "" {
		kc.ServiceUserDomain, kc.ServiceUserDomainID = c.KeystoneServiceDomain, ""
		kc.ServiceProjectDomain, kc.ServiceProjectDomainID = c.KeystoneServiceDomain, ""
	}
	if kc.ServiceProject == "" {
		kc.ServiceProject = "service"
	}
	if _, err := keystone.New(kc); err != nil { // checks without contacting it
		return []error{err}
	}
	c.keystone = &kc
	return nil
}

// keystoneAuth returns the Keystone client that validates the API's
// tokens, after registering the endpoint when asked. Keystone being down
// at start is only logged (tokens are validated once it is back); a
// requested registration that fails stops the start.
func keystoneAuth(ctx context.Context, c *serveConfig, now func() time.Time, log *slog.Logger) (*keystone.Client, error) {
	kc := *c.keystone
	kc.Now = now
	kc.Logger = log.With("component", "keystone")
	ks, err := keystone.New(kc)
	if err != nil {
		return nil, err
	}
	log.Info("tokens are validated by Keystone; the built-in identity is off", "keystone", kc.URL, "service_user", kc.ServiceUser)
	if c.AdminPassword != "" {
		log.Warn("--admin-password is ignored behind Keystone: users and projects are Keystone's")
	}
	if !c.KeystoneRegisterEndpoint {
		return ks, nil
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := ks.Register(rctx, c.PublicURL, c.Region); err != nil {
		return nil, fmt.Errorf("register the database endpoint in Keystone: %w", err)
	}
	return ks, nil
}
