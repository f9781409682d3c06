"""SCIM 2.0 provisioning (RFC 7643/7644) from Azure AD / Entra ID: the customer's directory creates,
updates, deactivates and deletes the tenant's Kutamo users, so leavers stop being active users."""
