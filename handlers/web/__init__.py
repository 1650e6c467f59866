"""The staff web view's rules, channel-neutral like every handler: who may sign in (`/web`),
who a browser's session stands for, and what each page shows and does. The pages' actions
call the same handlers as the chat commands (`handlers.coordination`), so a resident hears
the same from an answer given on the web as from one given in the chat. `bot.web` serves it.
"""
