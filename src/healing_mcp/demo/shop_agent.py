"""The demo's browser agent: sign in to the demo shop and open the reports page.

It signs in with Enter in the password field, so every step a retest replays in safe mode is one that
can be checked there (a click on the sign-in button would be withheld, which leaves a fix unverified).

``healing-mcp demo`` copies this file into a project folder, runs it against version 1 and then version 2
of the demo site, and writes patches for its selectors when the page changes under it.
"""

from typing import Any


async def run(page: Any, base_url: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#email", "ada@example.com")
    await page.fill("#password", "correct-horse-battery")
    await page.check("#remember")
    await page.press("#password", "Enter")
    await page.wait_for_url(f"{base_url}/dashboard")
    await page.click("#nav-reports")
    await page.wait_for_url(f"{base_url}/reports")
