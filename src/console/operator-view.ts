// The operator's view in the console: an admin signed in sees the lists (error log, search,
// suppression, parcels) of every tenant, with a tenant column and a tenant filter; a shop's user
// sees its own tenant only, without either. The API does the scoping (a list without `tenant` is
// every tenant's for an admin token only).
import type { FastifyRequest } from 'fastify';
import type { ConsoleContext, SignedIn } from './context.js';
import { html, type SafeHtml } from './html.js';

/** Whose rows a list page shows: `tenant` for the API (undefined = every tenant), `all` when it is every tenant's. */
export interface ListScope {
  tenant: string | undefined;
  /** True for an admin (the tenant column and filter are shown). */
  operator: boolean;
  tenants: Array<{ id: string; name: string }>;
}

/** The scope of a list page: an admin's `?tenant=` filter (none = every tenant), a shop user's own tenant. */
export async function listScope(ctx: ConsoleContext, req: FastifyRequest, s: SignedIn & { user: { tenant: string } }): Promise<ListScope> {
  if (s.user.role !== 'admin') return { tenant: s.user.tenant, operator: false, tenants: [] };
  const tenants = await ctx.tenants(req, s);
  const asked = String((req.query as { tenant?: unknown }).tenant ?? '');
  return { tenant: tenants.some((t) => t.id === asked) ? asked : undefined, operator: true, tenants };
}

/** The tenant filter of a list page's form (admins only). */
export function tenantFilter(scope: ListScope): SafeHtml | string {
  if (!scope.operator) return '';
  return html`<label>Tenant <select name="tenant" class="tenant-filter"><option value="">all tenants</option>${scope.tenants.map((t) => html`<option value="${t.id}"${t.id === scope.tenant ? html` selected` : ''}>${t.id}</option>`)}</select></label>`;
}

/** The tenant column's header and cell (admins only). */
export const tenantHead = (operator: boolean): SafeHtml | string => (operator ? html`<th>Tenant</th>` : '');
export const tenantCell = (operator: boolean, tenant: string): SafeHtml | string => (operator ? html`<td class="tenant">${tenant}</td>` : '');
