from omnihook.cli import app

app()
