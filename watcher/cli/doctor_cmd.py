"""placeholder"""

def register(commands, group, db_parent):
    pass
