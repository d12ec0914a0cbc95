import CordonCommands

CordonMain.run()
