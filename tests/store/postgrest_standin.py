"""An in-process stand-in for PostgREST, plugged into supabase-py as its httpx transport.

PostgREST cannot be installed here, so this replays, per request, what PostgREST does in front of a
real PostgreSQL: verify the JWT (HS256), connect as ``authenticator``, ``set local role`` to the JWT's
``role`` claim (``anon`` without a token), put the claims into ``request.jwt.claims``, run the request in
one transaction, and answer in PostgREST's wire format:

- ``POST /rest/v1/rpc/<fn>`` with a JSON object of named arguments: the function is looked up in the
  catalog by name and argument names (``PGRST202``/404 when none matches), called with the arguments
  converted by ``json_to_record`` like PostgREST does, and the result is JSON: an array for set-returning
  functions (of objects, or of values for ``setof <scalar>``), the value itself otherwise.
- ``GET /rest/v1/<table>?select=a,b&col=op.value&order=c.desc&limit=&offset=`` with ``eq, neq, gt, gte,
  lt, lte, in, is`` filters (``not.`` prefix too) and ``Prefer: count=exact`` (``Content-Range``).
  Unknown table: ``PGRST205``/404; unknown column: ``42703``/400.
- Errors as ``{"code", "message", "details", "hint"}`` with PostgREST's HTTP status for the SQLSTATE
  (42501: 401 for anon, 403 otherwise; 40001: 500; P0001: 400; 23505: 409; ...). Bad or expired JWT:
  401 with ``PGRST301``/``PGRST303``.

``down = True`` makes every request fail like an unreachable host (``httpx.ConnectError``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import jwt
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
EXPOSED_SCHEMAS = ("public",)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def make_key(role: str, secret: str = JWT_SECRET, *, expires_in: int = 3600, **extra: Any) -> str:
    now = int(time.time())
    claims = {"iss": "supabase", "ref": "standin", "role": role, "iat": now, "exp": now + expires_in, **extra}
    return jwt.encode(claims, secret, algorithm="HS256")


class PostgrestError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, "details": details, "hint": hint}


def _status_for(sqlstate: str, role: str) -> int:
    if sqlstate == "42501":
        return 401 if role == "anon" else 403
    exact = {"23503": 409, "23505": 409, "25006": 405, "P0001": 400, "42883": 404, "42P01": 404, "42P17": 500}
    if sqlstate in exact:
        return exact[sqlstate]
    by_class = {
        "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500,
        "3B": 500, "40": 500, "53": 503, "54": 413, "55": 500, "57": 500, "58": 500, "F0": 500, "HV": 500,
        "P0": 500, "XX": 500,
    }  # fmt: skip
    return by_class.get(sqlstate[:2], 400)


def _split_list(text: str) -> list[str]:
    """Items of an ``in.(a,"b,c")`` list, with PostgREST's double-quote escaping."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


class PostgrestStandIn(httpx.AsyncBaseTransport):
    def __init__(
        self,
        authenticator_url: str,
        *,
        jwt_secret: str = JWT_SECRET,
        anon_role: str = "anon",
        max_rows: int | None = None,
    ) -> None:
        self._url = authenticator_url
        self.max_rows = max_rows  # PostgREST's db-max-rows (1000 on Supabase): caps every result
        self._secret = jwt_secret
        self._anon = anon_role
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] | None = None
        self.down = False
        self.calls: list[tuple[str, str]] = []

    async def _get_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]]:
        if self._pool is None:
            pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] = AsyncConnectionPool(
                self._url,
                kwargs={"prepare_threshold": None, "row_factory": dict_row},
                min_size=1,
                max_size=12,
                open=False,
                timeout=30,
            )
            await pool.open(wait=True)
            self._pool = pool
        return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # ------------------------------------------------------------------------------ HTTP

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        path = request.url.path
        self.calls.append((request.method, path))
        try:
            if not path.startswith("/rest/v1/"):
                raise PostgrestError(404, "404", "no Route matched with those values")
            role, claims = self._authenticate(request)
            schema = request.headers.get("accept-profile") or request.headers.get("content-profile") or "public"
            if schema not in EXPOSED_SCHEMAS:
                raise PostgrestError(
                    406,
                    "PGRST106",
                    "Invalid schema: " + schema,
                    hint=f"Only the following schemas are exposed: {EXPOSED_SCHEMAS}",
                )
            target = path[len("/rest/v1/") :]
            if target.startswith("rpc/"):
                paging = {k: int(v) for k, v in request.url.params.items() if k in ("limit", "offset")}
                if request.method == "POST":
                    args = json.loads(await request.aread() or b"{}")
                else:
                    args = {k: v for k, v in request.url.params.items() if k not in ("limit", "offset")}
                want_count = "count=exact" in request.headers.get("prefer", "")
                status, body, headers = await self._rpc(schema, target[4:], args, role, claims, paging, want_count)
            elif request.method == "GET":
                status, body, headers = await self._select(schema, target, request, role, claims)
            elif request.method in ("PATCH", "DELETE"):
                status, body, headers = await self._modify(schema, target, request, role, claims)
            else:
                raise PostgrestError(405, "PGRST117", f"Unsupported HTTP method: {request.method}")
        except PostgrestError as exc:
            return httpx.Response(exc.status, json=exc.body, request=request)
        headers = {"content-type": "application/json; charset=utf-8", **headers}
        return httpx.Response(status, content=body.encode(), headers=headers, request=request)

    def _authenticate(self, request: httpx.Request) -> tuple[str, dict[str, Any]]:
        auth = request.headers.get("authorization", "")
        if not auth:
            return self._anon, {"role": self._anon}
        if not auth.lower().startswith("bearer "):
            raise PostgrestError(401, "PGRST301", "No suitable key or wrong key type")
        token = auth.split(" ", 1)[1].strip()
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError:
            raise PostgrestError(401, "PGRST303", "JWT expired") from None
        except jwt.InvalidSignatureError:
            raise PostgrestError(401, "PGRST301", "JWSError JWSInvalidSignature") from None
        except jwt.PyJWTError as exc:
            raise PostgrestError(401, "PGRST301", f"JWSError ({type(exc).__name__})") from None
        return str(claims.get("role") or self._anon), claims

    async def _transaction(self, role: str, claims: dict[str, Any], run: Any) -> Any:
        pool = await self._get_pool()
        async with pool.connection() as conn:
            try:
                async with conn.transaction():
                    await conn.execute(
                        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                        (role, json.dumps(claims)),
                    )
                    return await run(conn)
            except psycopg.Error as exc:
                diag = exc.diag
                state = exc.sqlstate or "08000"
                message = diag.message_primary or str(exc)
                status = _status_for(state, role)
                if state == "22023" and "role" in message:
                    status = 401
                raise PostgrestError(status, state, message, diag.message_detail, diag.message_hint) from None

    # ------------------------------------------------------------------------------ rpc

    def _limit(self, requested: int | None) -> int | None:
        if self.max_rows is None:
            return requested
        return self.max_rows if requested is None else min(requested, self.max_rows)

    async def _rpc(
        self,
        schema: str,
        name: str,
        args: dict[str, Any],
        role: str,
        claims: dict[str, Any],
        paging: dict[str, int] | None = None,
        want_count: bool = False,
    ) -> tuple[int, str, dict[str, str]]:
        paging = paging or {}

        async def run(conn: psycopg.AsyncConnection[dict[str, Any]]) -> tuple[int, str, dict[str, str]]:
            cur = await conn.execute(
                """
                select p.proname, p.proretset, t.typtype, p.pronargs, p.pronargdefaults,
                       coalesce(p.proargnames, '{}') as argnames, p.proargmodes::text[] as argmodes,
                       array(select format_type(x, null) from unnest(p.proargtypes::oid[]) with ordinality
                             as a(x, i) order by i) as argtypes,
                       coalesce(array_length(p.proallargtypes, 1), 0) > p.pronargs as has_out
                from pg_proc p
                join pg_namespace n on n.oid = p.pronamespace
                join pg_type t on t.oid = p.prorettype
                where n.nspname = %s and p.proname = %s and p.prokind = 'f'
                """,
                (schema, name),
            )
            candidates = await cur.fetchall()
            chosen = None
            for proc in candidates:
                names = self._input_names(proc)
                required = set(names[: len(names) - proc["pronargdefaults"]])
                if set(args) <= set(names) and required <= set(args):
                    chosen = (proc, names)
                    break
            if chosen is None:
                listed = ", ".join(sorted(args))
                hint = None
                if candidates:
                    known = ", ".join(self._input_names(candidates[0]))
                    hint = f"Perhaps you meant to call the function {schema}.{name}({known})"
                raise PostgrestError(
                    404,
                    "PGRST202",
                    f"Could not find the function {schema}.{name}({listed}) in the schema cache",
                    f"Searched for the function {schema}.{name} with parameters {listed} or with a single unnamed "
                    "json/jsonb parameter, but no matches were found in the schema cache.",
                    hint,
                )
            proc, names = chosen
            types = dict(zip(names, proc["argtypes"], strict=True))
            used = [n for n in names if n in args]
            call_args = sql.SQL(", ").join(
                sql.SQL("{} => _a.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in used
            )
            fn = sql.SQL("{}.{}({})").format(sql.Identifier(schema), sql.Identifier(name), call_args)
            source: sql.Composable
            if used:
                source = sql.SQL("json_to_record(%s::json) as _a({})").format(
                    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(types[n])) for n in used)
                )
                params: tuple[Any, ...] = (json.dumps({n: args[n] for n in used}),)
            else:
                source = sql.SQL("(select 1) as _a")
                params = ()
            headers: dict[str, str] = {}
            if proc["proretset"]:
                # like PostgREST: the call runs once (materialized), the page and the total come from it
                rows_of = sql.SQL("_c.*") if proc["typtype"] == "c" or proc["has_out"] else sql.SQL("_c.v")
                alias = sql.SQL("_c") if proc["typtype"] == "c" or proc["has_out"] else sql.SQL("_c(v)")
                agg = (
                    sql.SQL("json_agg(_r)") if proc["typtype"] == "c" or proc["has_out"] else sql.SQL("json_agg(_r.v)")
                )
                page: sql.Composable = sql.SQL("")
                limit = self._limit(paging.get("limit"))
                if limit is not None:
                    page += sql.SQL(" limit {}").format(sql.Literal(limit))
                if "offset" in paging:
                    page += sql.SQL(" offset {}").format(sql.Literal(paging["offset"]))
                query = sql.SQL(
                    "with _src as materialized (select {rows} from {source}, lateral {fn} as {alias}) "
                    "select coalesce((select {agg} from (select * from _src{page}) _r), '[]')::text as body, "
                    "(select count(*) from _src) as total, (select count(*) from (select 1 from _src{page}) _p) as n"
                ).format(rows=rows_of, source=source, fn=fn, alias=alias, agg=agg, page=page)
                cur = await conn.execute(query, params)
                row = await cur.fetchone()
                assert row is not None
                start = paging.get("offset", 0)
                shown = f"{start}-{start + row['n'] - 1}" if row["n"] else "*"
                headers["content-range"] = f"{shown}/{row['total'] if want_count else '*'}"
                return 200, row["body"], headers
            query = sql.SQL("select to_json({})::text as body from {}").format(fn, source)
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
            body = row["body"] if row and row["body"] is not None else "null"
            return 200, body, headers

        result: tuple[int, str, dict[str, str]] = await self._transaction(role, claims, run)
        return result

    @staticmethod
    def _input_names(proc: dict[str, Any]) -> list[str]:
        names: list[str] = list(proc["argnames"])
        modes = proc["argmodes"]
        if modes is None:
            return names[: proc["pronargs"]]
        return [n for n, m in zip(names, modes, strict=False) if m in ("i", "b", "v")]

    # ------------------------------------------------------------------------------ tables

    async def _select(
        self, schema: str, table: str, request: httpx.Request, role: str, claims: dict[str, Any]
    ) -> tuple[int, str, dict[str, str]]:
        params = list(request.url.params.multi_items())
        prefer = request.headers.get("prefer", "")
        want_count = "count=exact" in prefer

        async def run(conn: psycopg.AsyncConnection[dict[str, Any]]) -> tuple[int, str, dict[str, str]]:
            columns = await self._columns(conn, schema, table)

            def column(name: str) -> sql.Identifier:
                if not _IDENT.match(name) or name not in columns:
                    raise PostgrestError(400, "42703", f"column {table}.{name} does not exist")
                return sql.Identifier(name)

            select: sql.Composable = sql.SQL("*")
            where: list[sql.Composable] = []
            values: list[Any] = []
            order: list[sql.Composable] = []
            limit = offset = None
            for key, value in params:
                if key == "select":
                    if value.strip() != "*":
                        select = sql.SQL(", ").join(column(c.strip()) for c in value.split(","))
                elif key == "order":
                    for part in value.split(","):
                        bits = part.split(".")
                        direction = sql.SQL(" desc" if "desc" in bits[1:] else " asc")
                        nulls = sql.SQL(
                            " nulls first"
                            if "nullsfirst" in bits[1:]
                            else " nulls last"
                            if "nullslast" in bits[1:]
                            else ""
                        )
                        order.append(column(bits[0]) + direction + nulls)
                elif key == "limit":
                    limit = int(value)
                elif key == "offset":
                    offset = int(value)
                elif key in ("columns", "on_conflict"):
                    continue
                else:
                    where.append(self._filter(column(key), columns[key], value, values))
            where_sql = sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL("")
            base = sql.SQL("from {}.{}").format(sql.Identifier(schema), sql.Identifier(table)) + where_sql
            page: sql.Composable = sql.SQL("")
            if order:
                page += sql.SQL(" order by ") + sql.SQL(", ").join(order)
            limit = self._limit(limit)
            if limit is not None:
                page += sql.SQL(" limit {}").format(sql.Literal(limit))
            if offset is not None:
                page += sql.SQL(" offset {}").format(sql.Literal(offset))
            query = sql.SQL(
                "select coalesce(json_agg(_t), '[]')::text as body, count(*) as n from (select {} {}{}) _t"
            ).format(select, base, page)
            cur = await conn.execute(query, values)
            row = await cur.fetchone()
            assert row is not None
            headers = {}
            start = offset or 0
            shown = f"{start}-{start + row['n'] - 1}" if row["n"] else "*"
            if want_count:
                cur = await conn.execute(sql.SQL("select count(*) as total ") + base, values)
                total_row = await cur.fetchone()
                assert total_row is not None
                headers["content-range"] = f"{shown}/{total_row['total']}"
            else:
                headers["content-range"] = f"{shown}/*"
            return 200, row["body"], headers

        result: tuple[int, str, dict[str, str]] = await self._transaction(role, claims, run)
        return result

    async def _modify(
        self, schema: str, table: str, request: httpx.Request, role: str, claims: dict[str, Any]
    ) -> tuple[int, str, dict[str, str]]:
        """PATCH (update) or DELETE rows matching the filters, like PostgREST."""
        params = list(request.url.params.multi_items())
        changes = json.loads(await request.aread() or b"{}") if request.method == "PATCH" else {}

        async def run(conn: psycopg.AsyncConnection[dict[str, Any]]) -> tuple[int, str, dict[str, str]]:
            columns = await self._columns(conn, schema, table)
            where: list[sql.Composable] = []
            values: list[Any] = []
            assignments: list[sql.Composable] = []
            for name, value in changes.items():
                if name not in columns:
                    raise PostgrestError(
                        400, "PGRST204", f"Could not find the '{name}' column of '{table}' in the schema cache"
                    )
                values.append(value if isinstance(value, str) or value is None else json.dumps(value))
                assignments.append(sql.SQL("{} = cast(%s as {})").format(sql.Identifier(name), sql.SQL(columns[name])))
            for key, value in params:
                if key in ("select", "columns"):
                    continue
                if key not in columns:
                    raise PostgrestError(400, "42703", f"column {table}.{key} does not exist")
                where.append(self._filter(sql.Identifier(key), columns[key], value, values))
            target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            where_sql = sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL("")
            if request.method == "PATCH":
                statement = sql.SQL("update {} set {}").format(target, sql.SQL(", ").join(assignments)) + where_sql
            else:
                statement = sql.SQL("delete from {}").format(target) + where_sql
            query = sql.SQL(
                "with _m as ({} returning *) select coalesce(json_agg(_m), '[]')::text as body from _m"
            ).format(statement)
            cur = await conn.execute(query, values)
            row = await cur.fetchone()
            assert row is not None
            return 200, row["body"], {}

        result: tuple[int, str, dict[str, str]] = await self._transaction(role, claims, run)
        return result

    @staticmethod
    async def _columns(conn: psycopg.AsyncConnection[dict[str, Any]], schema: str, table: str) -> dict[str, str]:
        cur = await conn.execute(
            """
            select a.attname, format_type(a.atttypid, a.atttypmod) as type
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'v', 'm', 'f', 'p')
            """,
            (schema, table),
        )
        columns = {r["attname"]: r["type"] for r in await cur.fetchall()}
        if not columns:
            raise PostgrestError(404, "PGRST205", f"Could not find the table '{schema}.{table}' in the schema cache")
        return columns

    @staticmethod
    def _filter(col: sql.Identifier, type_name: str, expression: str, values: list[Any]) -> sql.Composable:
        negate = expression.startswith("not.")
        if negate:
            expression = expression[4:]
        op, _, operand = expression.partition(".")
        cast = sql.SQL(type_name)
        if op in _OPS:
            values.append(operand)
            clause: sql.Composable = sql.SQL("{} {} cast(%s as {})").format(col, sql.SQL(_OPS[op]), cast)
        elif op == "in":
            if not (operand.startswith("(") and operand.endswith(")")):
                raise PostgrestError(400, "PGRST100", f'"failed to parse filter ({expression})"')
            values.append(_split_list(operand[1:-1]))
            clause = sql.SQL("{} = any(cast(%s as {}[]))").format(col, cast)
        elif op == "is":
            literal = {"null": "null", "true": "true", "false": "false", "unknown": "unknown"}.get(operand.lower())
            if literal is None:
                raise PostgrestError(400, "PGRST100", f'"failed to parse filter ({expression})"')
            clause = sql.SQL("{} is {}").format(col, sql.SQL(literal))
        else:
            raise PostgrestError(400, "PGRST100", f'"failed to parse filter ({expression})"')
        return sql.SQL("not ({})").format(clause) if negate else clause
